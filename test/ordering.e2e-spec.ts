import { jest } from '@jest/globals';
import { Job } from 'bullmq';
import { DeliveryProcessor } from '../src/delivery-worker/delivery.processor.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { afterNewerAccepted, inversions, orderedThroughRetries } from './support/fair-order.js';
import { eventually, Receiver, type ReceivedRequest } from './support/receiver.js';
import { admin, createTestApp, metricOf, type TestApp } from './support/test-app.js';

const CHANGES = 300;

interface DeliveryDetail {
  id: string;
  state: string;
  attempt_count: number;
  held_reason: string | null;
  last_error: string | null;
}

/** One request as the receiver saw and answered it. */
interface Seen {
  path: string;
  sequence: number;
  id: string;
  status: number;
}

/** A receiver's answers decided per request, each request logged with the answer it got. */
function answering(receiver: Receiver, decide: (request: { path: string; sequence: number; id: string }) => number | [number, string]) {
  const log: Seen[] = [];
  receiver.answer((request: ReceivedRequest) => {
    const seen = {
      path: request.url.split('?')[0],
      sequence: Number(request.headers['agent-event-sequence']),
      id: String(request.headers['webhook-id']),
    };
    const decided = decide(seen);
    const [status, retryAfter] = Array.isArray(decided) ? decided : [decided, undefined];
    log.push({ ...seen, status });
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'Retry-After': retryAfter };
    return { status, headers };
  });
  return log;
}

/** An agent of a new client whose agent-login (GET) and agent-logout (POST) events both go to `url`: one order for both. */
const agentOnOneUrl = (app: TestApp, url: string, extension: string) =>
  agentWithEvents(app, { extension_name: extension }, [
    { url, event_type: 'agent-login', method: 'GET' },
    { url, event_type: 'agent-logout', method: 'POST' },
  ]);

describe('per agent and URL order of webhooks', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'ordering',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms,50ms,50ms,50ms',
        // No older delivery gives way in these tests: the newer ones wait for it however long it takes.
        ORDER_HOLD_MS: '600000',
      },
      { withWorker: true },
    );
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  /** An agent's deliveries to `url` (all of them without one), by the sequence of their status change. */
  const deliveriesOf = async (app: TestApp, agentId: number, url?: string) =>
    (
      await app.sql<{ id: string; sequence: number; url: string }>(
        `SELECT d.id, s.sequence, d.url FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
          WHERE d.agent_id = ? ORDER BY s.sequence, d.id`,
        [agentId],
      )
    ).filter((row) => url === undefined || row.url === url);

  const detail = async (app: TestApp, clientId: string, deliveryId: string): Promise<DeliveryDetail> =>
    (await app.http().get(`/client/${clientId}/delivery/${deliveryId}`).set(admin).expect(200)).body as DeliveryDetail;

  const retry = (app: TestApp, clientId: string, deliveryId: string) =>
    app.http().post(`/client/${clientId}/delivery/${deliveryId}/retry`).set(admin).expect(202);

  it(`delivers ${CHANGES} quick changes of one agent to one URL in order, though every 20th is refused once and retried`, async () => {
    const { log, deliveries } = await orderedThroughRetries(t, receiver, {
      clientId: 'ordered',
      changes: CHANGES,
      rejectEvery: 20,
      drainMs: 120_000,
      queue: { redis: t.redis, queuePrefix: t.config.queuePrefix },
    });
    const accepted = log.filter((entry) => entry.status < 300).map((entry) => entry.sequence);
    // The refusals happened (15 first attempts), and each was retried before anything newer went out.
    expect(log.filter((entry) => entry.status === 503)).toHaveLength(CHANGES / 20);
    expect(inversions(accepted)).toBe(0);
    expect(accepted[accepted.length - 1]).toBe(CHANGES);
    // Not even a refused request: nothing of a change arrived once the same or a newer one had been accepted.
    expect(afterNewerAccepted(log)).toEqual([]);
    // With an hour's hold nothing gave way: every change was delivered, each once, in the order of the changes.
    expect(accepted).toEqual(Array.from({ length: CHANGES }, (_, index) => index + 1));
    expect(deliveries.filter((row) => row.state !== 'succeeded')).toEqual([]);
  }, 180_000);

  it('lets an older delivery that keeps failing give way after ORDER_HOLD_MS: it is superseded and never sent after the newer one', async () => {
    const hold = await createTestApp(
      'ordering_hold',
      // The refused first delivery is retried only after an hour: it is pending all along, until it gives way.
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,1h', ORDER_HOLD_MS: '300' },
      { withWorker: true },
    );
    try {
      const log = answering(receiver, ({ sequence }) => (sequence === 1 ? 503 : 200));
      const agent = await agentOnOneUrl(hold, receiver.url('/held'), 'give-way@ringme.ru');
      await agent.setStatus('available');
      await receiver.waitFor(1);
      await agent.setStatus('logged_out');
      const [first, second] = await deliveriesOf(hold, agent.agentId);

      const older = await eventually(async () => {
        const seen = await detail(hold, agent.clientId, first.id);
        return seen.state !== 'pending' && seen;
      });
      expect(older).toMatchObject({ state: 'superseded', attempt_count: 1 });
      expect(older.last_error).toMatch(/superseded/);
      const newer = await eventually(async () => {
        const seen = await detail(hold, agent.clientId, second.id);
        return seen.state !== 'pending' && seen;
      });
      expect(newer).toMatchObject({ state: 'succeeded', attempt_count: 1 });
      // The receiver got the first change once (refused), then the second; a superseded delivery is never sent again.
      expect(log.map(({ sequence, id, status }) => ({ sequence, id, status }))).toEqual([
        { sequence: 1, id: first.id, status: 503 },
        { sequence: 2, id: second.id, status: 200 },
      ]);
    } finally {
      await hold.close();
    }
  });

  /**
   * An agent with both its events on one URL, whose first change's first attempt is refused with an hour's Retry-After:
   * that delivery is pending, due in an hour. The receiver's log, the agent and that delivery.
   */
  async function firstRefusedForAnHour(path: string, extension: string) {
    let refused = false;
    const log = answering(receiver, ({ sequence }) => {
      if (sequence !== 1 || refused) return 200;
      refused = true;
      return [503, '3600'];
    });
    const agent = await agentOnOneUrl(t, receiver.url(path), extension);
    await agent.setStatus('available');
    await receiver.waitFor(1);
    const [first] = await deliveriesOf(t, agent.agentId);
    return { log, agent, first };
  }

  it('shows, while a newer delivery waits, the older delivery it waits for; it goes out once that one is through', async () => {
    const { log, agent, first } = await firstRefusedForAnHour('/waiting', 'waits@ringme.ru');
    const heldForOrder = () => metricOf(t, 'agent_events_delivery_holds_total{held_by="order"}');
    const holdsBefore = await heldForOrder();
    await agent.setStatus('logged_out');
    const [, second] = await deliveriesOf(t, agent.agentId);

    const waiting = await eventually(async () => {
      const seen = await detail(t, agent.clientId, second.id);
      return (seen.held_reason !== null || seen.state !== 'pending') && seen;
    });
    expect(waiting).toMatchObject({
      state: 'pending',
      attempt_count: 0,
      held_reason: `waiting for delivery ${first.id}: an older change of this agent to this URL`,
    });
    expect(log.map((entry) => entry.sequence)).toEqual([1]);
    // It went back to the queue to wait, and /metrics counts it so, by what held it.
    expect(await eventually(async () => (await heldForOrder()) > holdsBefore)).toBe(true);

    // The first is retried by hand and accepted; then the second goes out, after it.
    await retry(t, agent.clientId, first.id);
    // The second looks again at most every few seconds while the first is due only in an hour (ORDER_WAIT_MS).
    const sent = await eventually(async () => {
      const seen = await detail(t, agent.clientId, second.id);
      return seen.state !== 'pending' && seen;
    }, 30_000);
    expect(sent).toMatchObject({ state: 'succeeded', attempt_count: 1, held_reason: null });
    expect(log.map(({ sequence, status }) => [sequence, status])).toEqual([
      [1, 503],
      [1, 200],
      [2, 200],
    ]);
  });

  it('sends a waiting delivery as soon as the older one is through, also when that happened while it was put back to wait', async () => {
    // The interleaving of two workers: the newer delivery has read the older one pending and is on its way back to the
    // queue; meanwhile the older one goes through, and its wake-up finds the newer one still active (not yet delayed).
    const { log, agent, first } = await firstRefusedForAnHour('/interleaved', 'interleaved@ringme.ru');

    const processor = t.app.get(DeliveryProcessor) as unknown as { wakeWaiting: (shard: unknown, id: string) => Promise<void> };
    const wake = processor.wakeWaiting.bind(processor);
    let firstWoken!: () => void;
    const firstThrough = new Promise<void>((resolve) => (firstWoken = resolve));
    const waking = jest.spyOn(processor, 'wakeWaiting').mockImplementation(async (shard, id) => {
      await wake(shard, id);
      if (id === first.id) firstWoken();
    });
    const moveToDelayed = Job.prototype.moveToDelayed;
    let delayedUntil: number | undefined;
    const moving = jest.spyOn(Job.prototype, 'moveToDelayed').mockImplementation(async function (this: Job, timestamp, token) {
      if (this.id !== first.id && delayedUntil === undefined) {
        delayedUntil = timestamp;
        // Before this job is delayed, the older one is retried by hand, accepted and through, its waiters woken.
        await retry(t, agent.clientId, first.id);
        await firstThrough;
      }
      return moveToDelayed.call(this, timestamp, token);
    });
    try {
      await agent.setStatus('logged_out');
      const [, second] = await deliveriesOf(t, agent.agentId);
      await receiver.waitFor(3, 30_000);
      expect(log.map(({ sequence, status }) => [sequence, status])).toEqual([
        [1, 503],
        [1, 200],
        [2, 200],
      ]);
      // It was put back to wait until its next look (ORDER_WAIT_MS), and went out before that: promoted, not looked at.
      expect(delayedUntil).toBeGreaterThan(Date.now() - 60_000);
      const arrived = receiver.requests.find((request) => request.headers['webhook-id'] === second.id)!;
      expect(arrived.at).toBeLessThan(delayedUntil!);
    } finally {
      moving.mockRestore();
      waking.mockRestore();
    }
  });

  it('supersedes, instead of sending, a manual retry of a delivery older than one already delivered', async () => {
    const log = answering(receiver, () => 200);
    const agent = await agentOnOneUrl(t, receiver.url('/retried'), 'retried@ringme.ru');
    await agent.setStatus('available');
    await receiver.waitFor(1);
    await agent.setStatus('logged_out');
    await receiver.waitFor(2);
    const [first, second] = await deliveriesOf(t, agent.agentId);
    for (const delivery of [first, second]) {
      await eventually(async () => (await detail(t, agent.clientId, delivery.id)).state === 'succeeded');
    }

    await retry(t, agent.clientId, first.id);
    // Pending again after the retry; then either superseded (never sent) or sent again (a second attempt).
    const after = await eventually(async () => {
      const seen = await detail(t, agent.clientId, first.id);
      return (seen.state !== 'pending' || seen.attempt_count > 1) && seen;
    });
    expect(after).toMatchObject({ state: 'superseded', attempt_count: 1 });
    expect(log.map(({ sequence, id }) => [sequence, id])).toEqual([
      [1, first.id],
      [2, second.id],
    ]);
  });

  it('holds only the blocked agent and URL: its other URL and another agent on the same host keep being delivered', async () => {
    // Agent A's first webhook to /a is refused once, with an hour's Retry-After: A's newer ones to /a wait for it.
    let refused = false;
    const log = answering(receiver, ({ path, sequence }) => {
      if (path !== '/a' || sequence !== 1 || refused) return 200;
      refused = true;
      return [503, '3600'];
    });
    const a = await agentWithEvents(t, { extension_name: 'blocked@ringme.ru' }, [
      { url: receiver.url('/a'), event_type: 'agent-login', method: 'GET' },
      { url: receiver.url('/a'), event_type: 'agent-logout', method: 'POST' },
      { url: receiver.url('/a-other'), event_type: 'agent-login', method: 'GET' },
      { url: receiver.url('/a-other'), event_type: 'agent-logout', method: 'POST' },
    ]);
    const b = await agentWithEvents(t, { agent_number: '+74950001122' }, [
      { url: receiver.url('/b'), event_type: 'agent-login', method: 'GET' },
      { url: receiver.url('/b'), event_type: 'agent-logout', method: 'POST' },
    ]);
    const arrived = (path: string, sequence: number) =>
      eventually(async () => log.some((entry) => entry.path === path && entry.sequence === sequence && entry.status < 300), 30_000);

    await a.setStatus('available');
    await arrived('/a-other', 1);
    await eventually(async () => log.some((entry) => entry.path === '/a' && entry.status === 503));
    await a.setStatus('logged_out');
    await a.setStatus('available');
    // B, on the same host, changes six times; each webhook arrives before the next change.
    for (let change = 1; change <= 6; change++) {
      await b.setStatus(change % 2 === 1 ? 'available' : 'logged_out');
      await arrived('/b', change);
    }
    // A's other URL got all three of A's changes, in order.
    await arrived('/a-other', 3);
    expect(log.filter((entry) => entry.path === '/a-other').map((entry) => entry.sequence)).toEqual([1, 2, 3]);
    // A's newer two to /a were not sent: each waits for the one before it, and the log says which.
    expect(log.filter((entry) => entry.path === '/a').map((entry) => entry.sequence)).toEqual([1]);
    const blocked = await deliveriesOf(t, a.agentId, receiver.url('/a'));
    expect(blocked.map((row) => row.sequence)).toEqual([1, 2, 3]);
    for (const [index, newer] of blocked.slice(1).entries()) {
      const seen = await eventually(async () => {
        const view = await detail(t, a.clientId, newer.id);
        return (view.held_reason !== null || view.state !== 'pending') && view;
      });
      expect(seen).toMatchObject({
        state: 'pending',
        attempt_count: 0,
        held_reason: `waiting for delivery ${blocked[index].id}: an older change of this agent to this URL`,
      });
    }

    // Released by a manual retry of the first: /a gets the three in order.
    await retry(t, a.clientId, blocked[0].id);
    await arrived('/a', 3);
    expect(log.filter((entry) => entry.path === '/a').map(({ sequence, status }) => [sequence, status])).toEqual([
      [1, 503],
      [1, 200],
      [2, 200],
      [3, 200],
    ]);
  });

  it('leaves no order mark for a delivery sent while its agent had no newer change, and one for a delivery a newer change may wait for', async () => {
    const mark = (id: string) => t.redis.exists(`${t.config.queuePrefix}:webhooks:order:${id}`);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.answer((request) =>
      Number(request.headers['agent-event-sequence']) === 2 ? { status: 200, release: held } : { status: 200 },
    );
    const agent = await agentOnOneUrl(t, receiver.url('/marks'), 'marks@ringme.ru');
    // Change 1 alone: sent and recorded while it is its agent's newest change.
    await agent.setStatus('available');
    await receiver.waitFor(1);
    const [first] = await deliveriesOf(t, agent.agentId);
    await eventually(async () => (await detail(t, agent.clientId, first.id)).state === 'succeeded');
    // Change 2's request is held at the receiver while change 3 is made: it is recorded with a newer change of its agent.
    await agent.setStatus('logged_out');
    await receiver.waitFor(2);
    await agent.setStatus('available');
    release();
    await receiver.waitFor(3);
    const [, second, third] = await deliveriesOf(t, agent.agentId);
    await eventually(async () => (await detail(t, agent.clientId, third.id)).state === 'succeeded');
    await eventually(async () => (await mark(second.id)) === 1);
    // Long after it went through (its wake-up, had it run, leaves the mark for 30 s): none for the first.
    expect(await mark(first.id)).toBe(0);
  });
});

describe('per agent and URL order across the two lanes of the queue', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    // One job in flight per lane: a second change queued while the first is on its way waits in the first lane, and
    // the changes after it are the client's backlog.
    t = await createTestApp(
      'ordering_lanes',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WORKER_CONCURRENCY: '1', ORDER_HOLD_MS: '600000' },
      { withWorker: true },
    );
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  it("sends an agent's changes in order when the older ones wait in the first lane and the newer in the backlog lane", async () => {
    const url = receiver.url('/lanes');
    const agent = await agentWithEvents(t, { extension_name: 'lanes@ringme.ru' }, [
      { url, event_type: 'agent-login', method: 'GET' },
      { url, event_type: 'agent-logout', method: 'GET' },
    ]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const sequences: number[] = [];
    receiver.answer((request) => {
      const sequence = Number(request.headers['agent-event-sequence']);
      sequences.push(sequence);
      return sequence === 1 ? { status: 200, release: held } : { status: 200 };
    });
    // Change 1 is taken and held at the receiver; change 2 then waits in the first lane (its one slot is busy), and
    // changes 3 and 4 are the client's backlog: the backlog lane's worker takes them at once, and they must wait.
    await agent.setStatus('available');
    await receiver.waitFor(1);
    for (let change = 2; change <= 4; change++) await agent.setStatus(change % 2 === 0 ? 'logged_out' : 'available');
    const rows = await t.sql<{ id: string; sequence: number }>(
      `SELECT d.id, s.sequence FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id WHERE d.agent_id = ? ORDER BY s.sequence`,
      [agent.agentId],
    );
    const lane = async (id: string) =>
      (await t.redis.exists(`${t.config.queuePrefix}:webhooks-backlog:${id}`)) === 1 ? 'backlog' : 'first';
    expect(await Promise.all(rows.map((row) => lane(row.id)))).toEqual(['first', 'first', 'backlog', 'backlog']);
    // The backlog lane's worker took 3 and 4 and put each back to wait for the one before it: nothing newer went out.
    const delayed = `${t.config.queuePrefix}:webhooks-backlog:delayed`;
    await eventually(
      async () => (await t.redis.zscore(delayed, rows[2].id)) !== null && (await t.redis.zscore(delayed, rows[3].id)) !== null,
    );
    expect(sequences).toEqual([1]);

    release();
    await receiver.waitFor(4);
    expect(sequences).toEqual([1, 2, 3, 4]);
    await eventually(
      async () => (await t.sql('SELECT id FROM deliveries WHERE agent_id = ? AND state = ?', [agent.agentId, 'pending'])).length === 0,
    );
  });
});
