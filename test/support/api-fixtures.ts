import { eventually } from './receiver.js';
import { admin, type TestApp } from './test-app.js';

export type AgentType = 'local' | 'remote';
export const AGENT_TYPES: AgentType[] = ['local', 'remote'];

/** The field that names an agent of each type, and a valid value of it. */
export const nameField = (type: AgentType) => (type === 'local' ? 'extension_name' : 'agent_number');
export const agentName = (type: AgentType, n: number) =>
  type === 'local' ? `${String(n).padStart(3, '0')}*094@ringme.ru` : `+7495000${String(n).padStart(4, '0')}`;
export const otherType = (type: AgentType): AgentType => (type === 'local' ? 'remote' : 'local');

export const TABLES = ['clients', 'agents', 'agent_events', 'status_changes', 'deliveries', 'delivery_attempts'];

/**
 * Row count and live checksum of every table: equal before and after means a request changed nothing. With the
 * worker in the app, earlier tests' deliveries are let settle first, or one of their attempts could land in between.
 */
export async function dbState(t: TestApp): Promise<Record<string, { rows: number; checksum: unknown }>> {
  if (t.withWorker) await deliveriesSettled(t);
  const checksums = await t.sql<{ Table: string; Checksum: unknown }>(`CHECKSUM TABLE ${TABLES.join(', ')}`);
  const state: Record<string, { rows: number; checksum: unknown }> = {};
  for (const table of TABLES) {
    const [{ n }] = await t.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
    state[table] = { rows: Number(n), checksum: checksums.find((row) => row.Table.endsWith(`.${table}`))?.Checksum };
  }
  return state;
}

/**
 * Waits until no delivery is pending. A delivery leaves `pending` in the one transaction that writes its last
 * attempt, so from then on the worker has nothing left to write; without a worker nothing is ever written.
 */
export async function deliveriesSettled(t: TestApp): Promise<void> {
  await eventually(async () => (await t.sql<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'"))[0].n === 0);
}

export async function createClient(t: TestApp, id: string, name = `Client ${id}`): Promise<void> {
  await t.http().post('/client/').set(admin).send({ id, name }).expect(201, { id, name });
}

export async function createAgent(t: TestApp, clientId: string, type: AgentType, name: string): Promise<number> {
  const response = await t
    .http()
    .post(`/client/${clientId}/agent/${type}/`)
    .set(admin)
    .send({ [nameField(type)]: name })
    .expect(201);
  return response.body.id as number;
}

export interface AgentEventBody {
  url: string;
  method: 'GET' | 'POST';
  event_type: 'agent-login' | 'agent-logout';
}

export async function createEvent(t: TestApp, clientId: string, type: AgentType, agentId: number, body: AgentEventBody): Promise<number> {
  const response = await t.http().post(`/client/${clientId}/agent/${type}/${agentId}/event/`).set(admin).send(body).expect(201);
  return response.body.id as number;
}

export function setStatus(t: TestApp, clientId: string, type: AgentType, agentId: number, status: 'available' | 'logged_out') {
  return t.http().put(`/client/${clientId}/agent/${type}/${agentId}`).set(admin).send({ status });
}

export const login = (url = 'https://hooks.example.com/in'): AgentEventBody => ({ url, method: 'GET', event_type: 'agent-login' });
export const logout = (url = 'https://hooks.example.com/out'): AgentEventBody => ({ url, method: 'POST', event_type: 'agent-logout' });
