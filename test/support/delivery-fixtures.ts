import type { TestApp } from './test-app.js';
import { admin } from './test-app.js';

let clients = 0;

/** A fresh client with one agent and the given agent events; returns their ids. */
export async function agentWithEvents(
  t: TestApp,
  agent: { extension_name: string } | { agent_number: string },
  events: { url: string; event_type: 'agent-login' | 'agent-logout'; method: 'GET' | 'POST' }[],
) {
  const clientId = `c${process.pid}x${++clients}`;
  await t
    .http()
    .post('/client/')
    .set(admin)
    .send({ id: clientId, name: `Client ${clientId}` })
    .expect(201);
  const type = 'extension_name' in agent ? 'local' : 'remote';
  const created = await t.http().post(`/client/${clientId}/agent/${type}/`).set(admin).send(agent).expect(201);
  const agentId = created.body.id as number;
  const eventIds: number[] = [];
  for (const event of events) {
    const response = await t.http().post(`/client/${clientId}/agent/${type}/${agentId}/event/`).set(admin).send(event).expect(201);
    eventIds.push(response.body.id as number);
  }
  const setStatus = (status: 'available' | 'logged_out') =>
    t.http().put(`/client/${clientId}/agent/${type}/${agentId}`).set(admin).send({ status }).expect(200);
  return { clientId, type, agentId, eventIds, setStatus, base: `/client/${clientId}/agent/${type}/${agentId}` };
}

/**
 * What a delivery row holds: its subscription's url and method, and the facts of its status change (joined), from
 * which its payload is built when it is sent. In the order the deliveries were written.
 */
export interface DeliveryFacts {
  id: string;
  client_id: string;
  url: string;
  method: string;
  agent_status: string;
  agent_type: string;
  event_source: string;
  agent_id: number;
  agent_name: string | null;
}

export function deliveryFacts(t: TestApp, where: string, params: unknown[] = []): Promise<DeliveryFacts[]> {
  return t.sql<DeliveryFacts>(
    `SELECT d.id, d.client_id, d.url, d.method, s.agent_status, s.agent_type, s.event_source, s.agent_id, s.agent_name
       FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
      WHERE ${where} ORDER BY d.created_at, d.id`,
    params,
  );
}

/**
 * The payload a delivery is sent with, as the delivery log shows it (GET /client/{id}/delivery/{delivery_id}: the
 * built payload, in its keys' order), and the raw text of that answer.
 */
export async function loggedPayload(
  t: TestApp,
  clientId: string,
  deliveryId: string,
): Promise<{ payload: Record<string, string>; text: string }> {
  const response = await t
    .http()
    .get(`/client/${encodeURIComponent(clientId)}/delivery/${deliveryId}`)
    .set(admin)
    .expect(200);
  return { payload: response.body.payload as Record<string, string>, text: response.text };
}
