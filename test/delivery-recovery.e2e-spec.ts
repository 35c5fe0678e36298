import { createAgent, createClient, createEvent, dbState, login, logout, setStatus } from './support/api-fixtures.js';
import { clientWithToken } from './support/client-fixtures.js';
import { expectFairAndExact, inversions, quietBesideBacklog } from './support/fair-order.js';
import { eventually, Receiver, type ReceivedRequest } from './support/receiver.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

const CONCURRENCY = 8;
const BACKLOG = 10_000;
const SINCE_FORMAT = 'since must be an ISO 8601 date and time with its offset, e.g. 2026-11-25T04:00:00Z';

/** One webhook as the receiver saw and answered it. */
interface Seen {
  path: string;
  sequence: number;
  agentStatus: string | null;
  status: number;
}

function seen(request: ReceivedRequest, status: number): Seen {
  const [path, query] = request.url.split('?');
  const form = new URLSearchParams(request.method === 'GET' ? query : request.body);
  return { path, sequence: Number(request.headers['agent-event-sequence']), agentStatus: form.get('agent_status'), status };
}

describe('bulk recovery of dead deliveries', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(
      'delivery_recovery',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        // The whole schedule passes in a moment: a receiver down for a second is down past it.
        WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms',
        // A receiver answering 503 to everything would open its circuit for 30 s; this is about the schedule.
        WEBHOOK_BREAKER_ERROR_PERCENT: '100',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
      },
      { withWorker: true },
    );
  });
  afterAll(() => t.close());

  const pending = async (clientId: string) =>
    Number((await t.sql<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE client_id = ? AND state = 'pending'", [clientId]))[0].n);
  const states = (clientId: string) =>
    t.sql<{ id: string; state: string; sequence: number }>(
      `SELECT d.id, d.state, s.sequence FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
        WHERE d.client_id = ? ORDER BY s.sequence, d.id`,
      [clientId],
    );
  const recover = (clientId: string, body: object, auth: Record<string, string> = admin) =>
    t.http().post(`/client/${clientId}/delivery/recover`).set(auth).send(body);

  it("brings a receiver that was down past the retry schedule to each agent's current state with one recover call, never an older state after a newer one", async () => {
    const receiver = await new Receiver().start();
    try {
      let down = true;
      const log: Seen[] = [];
      receiver.answer((request) => {
        const status = down ? 503 : 200;
        log.push(seen(request, status));
        return { status };
      });
      const clientId = 'outage';
      const since = new Date(Date.now() - 1000).toISOString();
      await createClient(t, clientId);
      // Each agent toggled this many times, its login and logout webhooks on one URL of its own.
      const toggles = [7, 8, 9];
      const agents = await Promise.all(
        toggles.map(async (_, index) => {
          const agentId = await createAgent(t, clientId, 'local', `${index}01@outage`);
          const url = receiver.url(`/agent/${index}`);
          await createEvent(t, clientId, 'local', agentId, login(url));
          await createEvent(t, clientId, 'local', agentId, logout(url));
          return agentId;
        }),
      );
      await Promise.all(
        agents.map(async (agentId, index) => {
          for (let change = 0; change < toggles[index]; change++) {
            await setStatus(t, clientId, 'local', agentId, change % 2 === 0 ? 'available' : 'logged_out').expect(200);
          }
        }),
      );
      await eventually(async () => (await pending(clientId)) === 0, 30_000);
      const before = await states(clientId);
      expect(before).toHaveLength(24);
      expect(before.filter((row) => row.state !== 'dead' && row.state !== 'superseded')).toEqual([]);
      const dead = before.filter((row) => row.state === 'dead').length;

      down = false;
      const answer = await recover(clientId, { since }).expect(202);
      expect(answer.body).toEqual({
        id: expect.stringMatching(/^rec_[0-9A-Z]{26}$/),
        matched: dead,
        // The newest delivery of each agent to its URL; the older ones stay dead.
        queued: 3,
        since: new Date(since).toISOString(),
        agent_event_id: null,
        state: 'dead',
        created_at: expect.any(String),
      });
      const progress = await eventually(async () => {
        const read = await t.http().get(`/client/${clientId}/delivery/recover/${answer.body.id}`).set(admin).expect(200);
        return read.body.done && read.body;
      }, 30_000);
      expect(progress).toEqual({ ...answer.body, progress: { pending: 0, succeeded: 3, dead: 0, superseded: 0 }, done: true });

      const agentsNow = await t.sql<{ id: number; agent_status: string; status_sequence: number }>(
        'SELECT id, agent_status, status_sequence FROM agents WHERE client_id = ? ORDER BY id',
        [clientId],
      );
      agents.forEach((agentId, index) => {
        const received = log.filter((entry) => entry.path === `/agent/${index}`);
        const now = agentsNow.find((agent) => agent.id === agentId)!;
        expect(now.status_sequence).toBe(toggles[index]);
        // The last webhook the receiver got is the agent's current state, the only one it accepted.
        expect(received[received.length - 1]).toEqual({
          path: `/agent/${index}`,
          sequence: now.status_sequence,
          agentStatus: now.agent_status,
          status: 200,
        });
        expect(received.filter((entry) => entry.status === 200)).toHaveLength(1);
        // Across the outage and the recovery, nothing older arrived after something newer.
        expect(
          inversions(
            received.map((entry) => entry.sequence),
            false,
          ),
        ).toBe(0);
      });
      const after = await states(clientId);
      expect(after.filter((row) => row.state === 'succeeded').map((row) => row.sequence)).toEqual([...toggles].sort());
      expect(after.filter((row) => row.state === 'dead')).toHaveLength(dead - 3);
    } finally {
      await receiver.stop();
    }
  }, 60_000);

  describe('input and scoping', () => {
    let receiver: Receiver;
    let alpha: Awaited<ReturnType<typeof clientWithToken>>;
    let beta: Awaited<ReturnType<typeof clientWithToken>>;
    let alphaEvent: number;
    const since = '2020-01-01T00:00:00Z';

    beforeAll(async () => {
      receiver = await new Receiver().start();
      receiver.answer(() => ({ status: 503 }));
      alpha = await clientWithToken(t, 'alpha');
      beta = await clientWithToken(t, 'beta');
      const agentId = await createAgent(t, 'alpha', 'local', '101@alpha');
      alphaEvent = await createEvent(t, 'alpha', 'local', agentId, login(receiver.url('/alpha')));
      await setStatus(t, 'alpha', 'local', agentId, 'available').expect(200);
      await eventually(async () => (await states('alpha')).every((row) => row.state === 'dead'));
    });
    afterAll(() => receiver.stop());

    const recoveries = async () => Number((await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM delivery_recoveries'))[0].n);

    it.each([
      [{}, SINCE_FORMAT],
      [{ since: 'yesterday' }, SINCE_FORMAT],
      [{ since: 1764000000 }, SINCE_FORMAT],
      [{ since: '2026-01-01T00:00:00' }, SINCE_FORMAT],
      [{ since: '2026-02-30T00:00:00Z' }, SINCE_FORMAT],
      [{ since: '2999-01-01T00:00:00Z' }, 'since must not be in the future'],
      [{ since, agent_event_id: 0 }, 'agent_event_id must be a positive integer'],
      [{ since, agent_event_id: '7' }, 'agent_event_id must be a positive integer'],
      [{ since, agent_event_id: 1.5 }, 'agent_event_id must be a positive integer'],
      [{ since, agent_event_id: null }, 'agent_event_id must be a positive integer'],
      [{ since, state: 'pending' }, 'state must be one of: dead'],
      [{ since, limit: 10 }, 'property limit should not exist'],
    ])('refuses %j with 400 naming the field, and changes nothing', async (body, message) => {
      const before = { tables: await dbState(t), recoveries: await recoveries() };
      const answer = await recover('alpha', body).expect(400);
      expect(answer.body).toEqual({ message, status: 'validation_failed' });
      expect({ tables: await dbState(t), recoveries: await recoveries() }).toEqual(before);
    });

    it("refuses another client's token, and finds neither the other client's recovery nor its deliveries", async () => {
      const before = { tables: await dbState(t), recoveries: await recoveries() };
      const denied = { message: 'This token may not use this endpoint.', status: 'access_denied' };
      await recover('alpha', { since }, beta.auth).expect(403, denied);
      await recover('ghost', { since }, beta.auth).expect(403, denied);
      await t.http().get('/client/alpha/delivery/recover/rec_01JDX3Q5N0W7S8T9V0X1Y2Z3A4').set(beta.auth).expect(403, denied);
      await recover('ghost', { since }).expect(404, { message: 'Client ghost does not exist.', status: 'client_not_found' });
      expect({ tables: await dbState(t), recoveries: await recoveries() }).toEqual(before);

      // Beta naming alpha's agent event recovers nothing: a recovery is bounded to the caller's own deliveries.
      const own = await recover('@me', { since, agent_event_id: alphaEvent }, beta.auth).expect(202);
      expect(own.body).toMatchObject({ matched: 0, queued: 0, agent_event_id: alphaEvent });
      expect(await dbState(t)).toEqual(before.tables);

      const alphas = await recover('@me', { since, agent_event_id: alphaEvent }, alpha.auth).expect(202);
      expect(alphas.body).toMatchObject({ matched: 1, queued: 1 });
      const notFound = { message: `Client beta has no recovery ${alphas.body.id}.`, status: 'recovery_not_found' };
      await t.http().get(`/client/@me/delivery/recover/${alphas.body.id}`).set(beta.auth).expect(404, notFound);
      await t.http().get(`/client/beta/delivery/recover/${alphas.body.id}`).set(admin).expect(404, notFound);
      // GET delivery/{delivery_id} is still the delivery log's: "recover" is not a delivery.
      await t.http().get('/client/alpha/delivery/recover').set(admin).expect(404);
      await t
        .http()
        .get(`/client/@me/delivery/recover/${alphas.body.id}`)
        .set(alpha.auth)
        .expect(200)
        .expect((response) => expect(response.body).toMatchObject({ id: alphas.body.id, queued: 1 }));
    });
  });

  it(`delivers another client's changes first while a recovery of ${BACKLOG.toLocaleString('en')} deliveries drains`, async () => {
    const a = await new Receiver('127.0.0.1').start();
    const b = await new Receiver('127.0.0.2').start();
    try {
      const clientA = 'fair-noisy';
      await createClient(t, clientA);
      // A's dead backlog, inserted in MySQL for speed: one agent, login event, status change and dead delivery each.
      const agents = Array.from({ length: BACKLOG }, (_, index) => [clientA, 'local', `${index}@noisy`, 'available', 1]);
      await t.sql('INSERT INTO agents (client_id, agent_type, extension_name, agent_status, status_sequence) VALUES ?', [agents]);
      await t.sql(
        `INSERT INTO agent_events (client_id, agent_id, event_type, method, url)
         SELECT client_id, id, 'agent-login', 'POST', CONCAT(?, id) FROM agents WHERE client_id = ?`,
        [a.url('/a/'), clientA],
      );
      const anHourAgo = new Date(Date.now() - 3_600_000);
      await t.sql(
        `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
         SELECT client_id, id, 'local', 'logged_out', 'available', 'api', 1, extension_name, ? FROM agents WHERE client_id = ?`,
        [anHourAgo, clientA],
      );
      await t.sql(
        `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts, created_at)
         SELECT CONCAT('msg_recovery', LPAD(s.id, 12, '0')), s.client_id, s.agent_id, e.id, s.id, e.url, e.method, 'dead', 9, s.changed_at
           FROM status_changes s JOIN agent_events e ON e.agent_id = s.agent_id WHERE s.client_id = ?`,
        [clientA],
      );

      let recoveryId = '';
      const run = await quietBesideBacklog(t, {
        prefix: 'fair',
        clientA,
        aTotal: BACKLOG,
        aReplyDelayMs: 0,
        changes: 10,
        a,
        b,
        startBacklog: async () => {
          const answer = await recover(clientA, { since: new Date(anHourAgo.getTime() - 1000).toISOString() }).expect(202);
          expect(answer.body).toMatchObject({ matched: BACKLOG, queued: BACKLOG });
          recoveryId = answer.body.id as string;
          // B changes once A's jobs are queued (the enqueue goes on after the answer): all but A's first are its backlog.
          const waiting = `${t.config.queuePrefix}:webhooks-backlog:prioritized`;
          await eventually(async () => (await t.redis.zcard(waiting)) + a.requests.length >= BACKLOG / 2);
        },
      });
      // Each of B's webhooks waited for a few of A's in flight, not for A's queue; A still had half of it pending.
      expectFairAndExact(run, 4 * CONCURRENCY);
      expect(run.windows).toHaveLength(10);
      expect(run.aReceivedAtLastB).toBeLessThanOrEqual(BACKLOG / 2);
      const progress = await t.http().get(`/client/${clientA}/delivery/recover/${recoveryId}`).set(admin).expect(200);
      expect(progress.body).toMatchObject({ progress: { pending: 0, succeeded: BACKLOG, dead: 0, superseded: 0 }, done: true });
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 120_000);
});
