import type { Response } from 'supertest';
import { createAgent, createClient, createEvent, setStatus } from './support/api-fixtures.js';
import { deliveryMismatches, installHistory } from './support/history.js';
import { eventually, Receiver } from './support/receiver.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

/** Each race once seen in the service, many rounds of real concurrent requests against MariaDB. */
describe('exactness when requests race', () => {
  let t: TestApp;
  let receiver: Receiver;
  let clientN = 0;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    t = await createTestApp(
      'exactness',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WEBHOOK_RETRY_SCHEDULE: '0',
        RECONCILE_INTERVAL_MS: '300',
        DEFAULT_AGENT_EVENT_LIMIT: '1000',
      },
      { withWorker: true },
    );
    await installHistory(t);
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  const freshClient = async () => {
    const clientId = `x${++clientN}`;
    await createClient(t, clientId);
    return clientId;
  };
  const serverErrors = (responses: Response[]) => responses.filter((r) => r.status >= 500).map((r) => [r.status, r.body]);
  const countAndRows = async (clientId: string) => {
    const [{ count }] = await t.sql<{ count: number }>('SELECT agent_event_count AS count FROM clients WHERE id = ?', [clientId]);
    const [{ n }] = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM agent_events WHERE client_id = ?', [clientId]);
    return { count: Number(count), rows: Number(n) };
  };
  const hook = (event_type: 'agent-login' | 'agent-logout') => ({
    url: receiver.url(`/${event_type}`),
    method: 'POST' as const,
    event_type,
  });

  it("keeps the client's agent-event count equal to its rows when an agent is deleted while its agent events are", async () => {
    const clientId = await freshClient();
    // A second agent's events keep the count above zero, so a double decrement drifts instead of underflowing.
    const keeper = await createAgent(t, clientId, 'local', 'keeper');
    for (let i = 0; i < 3; i++) await createEvent(t, clientId, 'local', keeper, hook('agent-login'));
    for (let round = 0; round < 30; round++) {
      const agentId = await createAgent(t, clientId, 'local', `doomed${round}`);
      const eventIds: number[] = [];
      for (let i = 0; i < 6; i++) eventIds.push(await createEvent(t, clientId, 'local', agentId, hook('agent-login')));
      const base = `/client/${clientId}/agent/local/${agentId}`;
      const deletes = eventIds.map((id) => () => t.http().delete(`${base}/event/${id}`).set(admin));
      deletes.splice(round % 7, 0, () => t.http().delete(base).set(admin));
      const responses = await Promise.all(deletes.map((send) => send()));
      expect(serverErrors(responses)).toEqual([]);
      const agentDelete = responses.splice(round % 7, 1)[0];
      expect(agentDelete.status).toBe(204);
      for (const response of responses) {
        if (response.status !== 204)
          expect([response.status, response.body.status]).toEqual([404, expect.stringMatching(/^(event|agent)_not_found$/)]);
      }
      expect(await countAndRows(clientId)).toEqual({ count: 3, rows: 3 });
    }
  });

  it('answers 404 event_not_found to a PUT of an agent event whose DELETE won the race, and 200 only for an update that happened', async () => {
    const clientId = await freshClient();
    const agentId = await createAgent(t, clientId, 'remote', '+100');
    for (let round = 0; round < 40; round++) {
      const eventId = await createEvent(t, clientId, 'remote', agentId, hook('agent-login'));
      const path = `/client/${clientId}/agent/remote/${agentId}/event/${eventId}`;
      const url = receiver.url(`/updated/${round}`);
      const put = () => t.http().put(path).set(admin).send({ url });
      const del = () => t.http().delete(path).set(admin);
      const [updated, deleted] = round % 2 ? await Promise.all([put(), del()]) : (await Promise.all([del(), put()])).reverse();
      expect(serverErrors([updated, deleted])).toEqual([]);
      expect(deleted.status).toBe(204);
      const history = await t.sql<{ kind: string }>(
        "SELECT kind FROM race_history WHERE row_id = ? AND kind IN ('event_updated', 'event_deleted') ORDER BY id",
        [eventId],
      );
      if (updated.status === 200) {
        expect(updated.body).toEqual({ id: eventId, url, method: 'POST', event_type: 'agent-login' });
        expect(history.map((row) => row.kind)).toEqual(['event_updated', 'event_deleted']);
      } else {
        expect([updated.status, updated.body]).toEqual([404, { message: expect.any(String), status: 'event_not_found' }]);
        expect(history.map((row) => row.kind)).toEqual(['event_deleted']);
      }
    }
  });

  it('loses neither of two concurrent partial PUTs of one agent event', async () => {
    const clientId = await freshClient();
    const agentId = await createAgent(t, clientId, 'local', 'partial');
    const eventId = await createEvent(t, clientId, 'local', agentId, hook('agent-login'));
    const path = `/client/${clientId}/agent/local/${agentId}/event/${eventId}`;
    for (let round = 0; round < 40; round++) {
      const url = receiver.url(`/partial/${round}`);
      const method = round % 2 ? 'GET' : 'POST';
      const eventType = round % 3 ? 'agent-login' : 'agent-logout';
      const responses = await Promise.all([
        t.http().put(path).set(admin).send({ url }),
        t.http().put(path).set(admin).send({ method }),
        t.http().put(path).set(admin).send({ event_type: eventType }),
      ]);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
      const { body } = await t.http().get(path).set(admin).expect(200);
      expect(body).toEqual({ id: eventId, url, method, event_type: eventType });
    }
  });

  it.each([
    ['phone commands', 'phone'],
    ['PUTs of the status', 'api'],
  ])(
    'sends every status change made by %s to every agent event committed before it, while agent events are being created',
    async (_name, source) => {
      const clientId = await freshClient();
      for (let round = 0; round < 25; round++) {
        const name = `toggle${round}`;
        const agentId = await createAgent(t, clientId, 'local', name);
        const change = (n: number) => {
          const command = n % 2 ? 'logout' : 'login';
          return source === 'phone'
            ? t.http().post('/pbx/agent-command').set(pbx).send({ client_id: clientId, extension_name: name, command })
            : setStatus(t, clientId, 'local', agentId, command === 'login' ? 'available' : 'logged_out');
        };
        const create = (n: number) =>
          t
            .http()
            .post(`/client/${clientId}/agent/local/${agentId}/event/`)
            .set(admin)
            .send(hook(n % 2 ? 'agent-logout' : 'agent-login'));
        const requests: (() => Promise<Response>)[] = [];
        for (let n = 0; n < 8; n++)
          requests.push(
            () => create(n),
            () => change(n),
          );
        const responses = await Promise.all(requests.map((send) => send()));
        expect(serverErrors(responses)).toEqual([]);
        expect(responses.filter((r) => r.status !== 200 && r.status !== 201).map((r) => [r.status, r.body])).toEqual([]);
      }
      expect(await deliveryMismatches(t, clientId)).toEqual([]);
    },
  );

  it.each([
    ['fails', 500],
    ['succeeds', 200],
  ])('sends a delivery again when it is retried by hand while its last attempt is in flight and %s', async (_outcome, status) => {
    const clientId = await freshClient();
    const agentId = await createAgent(t, clientId, 'local', `retry${status}`);
    const path = `/retry/${status}`;
    await createEvent(t, clientId, 'local', agentId, { url: receiver.url(path), method: 'GET', event_type: 'agent-login' });
    for (let round = 0; round < 3; round++) {
      const before = receiver.requests.length;
      receiver.reply({ status, delayMs: 600 });
      await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
      // This test's path: a retry of an earlier test's delivery may reach the same receiver in between.
      const first = await eventually(async () => receiver.requests.slice(before).find((request) => request.url.startsWith(path)));
      const deliveryId = first.headers['webhook-id'] as string;
      const retried = await t.http().post(`/client/${clientId}/delivery/${deliveryId}/retry`).set(admin).expect(202);
      expect(retried.body).toMatchObject({ id: deliveryId, state: expect.stringMatching(/^(pending|succeeded)$/) });
      const resent = await eventually(async () =>
        receiver.requests.slice(receiver.requests.indexOf(first) + 1).find((request) => request.headers['webhook-id'] === deliveryId),
      );
      expect(resent.url).toBe(first.url);
      await eventually(async () => {
        const [row] = await t.sql<{ state: string }>('SELECT state FROM deliveries WHERE id = ?', [deliveryId]);
        return row.state === 'succeeded';
      });
      await setStatus(t, clientId, 'local', agentId, 'logged_out').expect(200);
    }
  });
});
