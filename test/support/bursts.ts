import type { Pool } from 'mysql2/promise';
import request from 'supertest';
import { eventually, type ReceivedRequest } from './receiver.js';
import { admin } from './test-app.js';

/** How many times each webhook id reached the receiver, for those that came more than once. */
export function duplicates(requests: ReceivedRequest[]): Map<string, ReceivedRequest[]> {
  const byId = new Map<string, ReceivedRequest[]>();
  for (const seen of requests)
    byId.set(String(seen.headers['webhook-id']), [...(byId.get(String(seen.headers['webhook-id'])) ?? []), seen]);
  return new Map([...byId].filter(([, all]) => all.length > 1));
}

/**
 * A new client with `count` local agents, each with a POST webhook to `url` on login and on logout; created through
 * the APIs in turn.
 */
export async function agentsWithWebhooks(
  apis: string[],
  clientId: string,
  count: number,
  url: string,
): Promise<{ extensions: string[]; ids: number[] }> {
  await request(apis[0]).post('/client/').set(admin).send({ id: clientId, name: 'Scaled out' }).expect(201);
  const extensions = Array.from({ length: count }, (_, index) => `${clientId}-${index}@ringme.ru`);
  const ids = await Promise.all(
    extensions.map(async (extension, index) => {
      const base = apis[index % apis.length];
      const created = await request(base)
        .post(`/client/${clientId}/agent/local/`)
        .set(admin)
        .send({ extension_name: extension })
        .expect(201);
      for (const eventType of ['agent-login', 'agent-logout']) {
        await request(base)
          .post(`/client/${clientId}/agent/local/${created.body.id}/event/`)
          .set(admin)
          .send({ url, event_type: eventType, method: 'POST' })
          .expect(201);
      }
      return created.body.id as number;
    }),
  );
  return { extensions, ids };
}

/** Each agent logs in and out `changes` times in all (one after the other per agent, all agents at once), each answered 200. */
export async function burst(apis: string[], clientId: string, ids: number[], changes: number): Promise<void> {
  await Promise.all(
    ids.map(async (id, index) => {
      for (let change = 0; change < changes; change++) {
        await request(apis[(index + change) % apis.length])
          .put(`/client/${clientId}/agent/local/${id}`)
          .set(admin)
          .send({ status: change % 2 === 0 ? 'available' : 'logged_out' })
          .expect(200);
      }
    }),
  );
}

/** Waits until the client has `count` deliveries, every one succeeded; returns them. */
export function allSucceeded(pool: Pool, clientId: string, count: number): Promise<{ id: string; state: string }[]> {
  return eventually(async () => {
    const [rows] = (await pool.query('SELECT id, state FROM deliveries WHERE client_id = ?', [clientId])) as [
      { id: string; state: string }[],
      unknown,
    ];
    return rows.length === count && rows.every((row) => row.state === 'succeeded') && rows;
  }, 120_000);
}
