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
