import { Queue, Worker } from 'bullmq';
import mysql from 'mysql2/promise';
import { DeliveryQueueService } from '../src/delivery-queue/delivery-queue.service.js';
import { dropStandIn, fairSharesKeys, takeTurns, turnsTaken } from '../src/delivery-queue/fair-shares.js';
import { WebhookProducer } from '../src/delivery-queue/webhook-producer.js';
import { ShardQueue } from '../src/delivery-queue/queue-shards.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { expectFairAndExact, lanesOf, noisyNeighbour } from './support/fair-order.js';
import { eventually, Receiver, sleep } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const CONCURRENCY = 8;
const AGENTS = 30;
const EVENTS_PER_AGENT = 100;
const CHANGES = 20;

/**
 * For the describe block it is called in: an app whose worker runs in the test's process, and a receiver on each of two
 * hosts (127.0.0.2 is another host than 127.0.0.1 for the worker's per-host isolation).
 */
function appWithTwoHosts(suite: string, env: Record<string, string>): { t: TestApp; a: Receiver; b: Receiver } {
  const setup = {} as { t: TestApp; a: Receiver; b: Receiver };
  beforeAll(async () => {
    setup.t = await createTestApp(suite, { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', ...env }, { withWorker: true });
    setup.a = await new Receiver('127.0.0.1').start();
    setup.b = await new Receiver('127.0.0.2').start();
  });
  afterAll(async () => {
    await setup.a.stop();
    await setup.b.stop();
    await setup.t.close();
  });
  return setup;
}

describe('fair shares of the workers between clients', () => {
  const setup = appWithTwoHosts('fairness', {
    WORKER_CONCURRENCY: String(CONCURRENCY),
    // As many requests to one host as the worker runs at once: A's deliveries are never held for their host's limit,
    // so what B waits for is the queue alone.
    WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
  });

  it("delivers a quiet client's changes past a noisy client's backlog of 3,000, and every delivery of both exactly once", async () => {
    const { t, a, b } = setup;
    const run = await noisyNeighbour(t, {
      prefix: 'e2e',
      agents: AGENTS,
      eventsPerAgent: EVENTS_PER_AGENT,
      aReplyDelayMs: 20,
      changes: CHANGES,
      a,
      b,
    });
    // The bound is a count of A's webhooks, not a time: while B's change waits for a worker, only the requests of A
    // already in flight (and those started by slots freed before B's job was taken) go out. In one FIFO queue it is
    // the whole backlog queued before B's change, thousands.
    expect(run.windows).toHaveLength(CHANGES);
    expectFairAndExact(run, 4 * CONCURRENCY);
    expect(a.requests).toHaveLength(run.aTotal);
    expect(b.requests).toHaveLength(CHANGES);
    // B's every delivery was its client's only one waiting: each went through the queue's first lane, where no backlog
    // is; A's went through the backlog lane, but for its first (one per burst of logins at most, if A's count came
    // back to zero in between).
    const queue = { redis: t.redis, queuePrefix: t.config.queuePrefix };
    expect(await lanesOf(t, queue, 'e2e-quiet')).toEqual({ first: CHANGES, backlog: 0, none: 0 });
    const lanesOfA = await lanesOf(t, queue, 'e2e-noisy');
    expect(lanesOfA.none).toBe(0);
    expect(lanesOfA.first).toBeGreaterThanOrEqual(1);
    expect(lanesOfA.first).toBeLessThanOrEqual(AGENTS);
  }, 180_000);

  it("forgets a client's count that drifted (a delivery counted in and never taken) once nothing waits in the queue", async () => {
    const { t, b } = setup;
    const fair = `${t.config.queuePrefix}:webhooks:fair`;
    const agent = await agentWithEvents(t, { extension_name: 'after-drift@ringme.ru' }, [
      { url: b.url('/after-drift'), event_type: 'agent-login', method: 'GET' },
    ]);
    // A count of 5,000 deliveries of the client in its backlog while it has none queued: its next delivery would go
    // after everyone's 5,000th.
    await t.redis.hset(fair, agent.clientId, 5000);
    const before = b.requests.length;
    await agent.setStatus('available');
    await b.waitFor(before + 1);
    // It went to the backlog lane (the count said one waited there); the worker took it, and nothing waited after it:
    // every count is gone, the drifted one too.
    await eventually(async () => (await t.redis.exists(fair)) === 0);
    const [delivery] = await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE agent_id = ?', [agent.agentId]);
    expect(await t.redis.exists(`${t.config.queuePrefix}:webhooks-backlog:${delivery.id}`)).toBe(1);
  });

  /**
   * A queue of its own, in both lanes, under the suite's prefix, which the app's worker never serves: the scripts alone,
   * with BullMQ's own queue, on the real Redis.
   */
  const ownQueue = (name: string) => {
    const { t } = setup;
    const lane = (lane: string) => new Queue(`${name}-${lane}`, { connection: t.redis, prefix: `${t.config.queuePrefix}:${name}` });
    return new ShardQueue(lane('first'), lane('backlog'));
  };
  /** Queues deliveries of these clients as the API does (their turns, then their jobs), named `<client>-<n>`. */
  const queueUp = async (shard: ShardQueue, clients: string[]) => {
    const entries = clients.map((clientId) => {
      queued.set(clientId, (queued.get(clientId) ?? 0) + 1);
      return { deliveryId: `${clientId}-${queued.get(clientId)}`, clientId };
    });
    const turns = await takeTurns(setup.t.redis, shard, entries);
    for (const [index, { deliveryId }] of entries.entries()) {
      const { lane, priority } = turns[index];
      await shard.lane(lane).add('webhook', { deliveryId, clientId: entries[index].clientId, host: 'h' }, { jobId: deliveryId, priority });
    }
  };
  const queued = new Map<string, number>();
  /** What a worker takes next: the first lane's jobs, then the backlog lane's in BullMQ's order (priority, then arrival). */
  const backlogOrder = async (shard: ShardQueue) => (await shard.backlog.getPrioritized(0, -1)).map((job) => job.id);
  /**
   * Workers take the backlog lane's next `n` jobs and the first lane's (removed here, as if done): the backlog's turns
   * are counted taken, as the worker counts them; the first lane's jobs are gone.
   */
  const take = async (shard: ShardQueue, n: number) => {
    const backlog = await shard.backlog.getPrioritized(0, n - 1);
    for (const job of [...backlog, ...(await shard.first.getWaiting(0, -1))]) await job.remove();
    await turnsTaken(
      setup.t.redis,
      shard,
      backlog.map((job) => ({ clientId: job.data.clientId!, priority: job.priority })),
    );
  };
  /** The lane each of these deliveries' jobs is in. */
  const lanes = async (shard: ShardQueue, ids: string[]) =>
    Promise.all(ids.map(async (id) => ((await shard.first.getJob(id)) ? 'first' : (await shard.backlog.getJob(id)) ? 'backlog' : 'none')));

  it("keeps a client's deliveries in their order of arrival while its backlog shrinks and grows again", async () => {
    const shard = ownQueue('arrival');
    for (let round = 0; round < 5; round++) {
      await queueUp(shard, Array(6).fill('steady'));
      // The workers catch up with part of it: what comes next must still go after what waited before.
      await take(shard, 4);
    }
    const order = await backlogOrder(shard);
    expect(order.length).toBeGreaterThanOrEqual(8);
    const arrival = order.map((id) => Number(id!.split('-')[1]));
    expect(arrival).toEqual([...arrival].sort((a, b) => a - b));
  });

  it('lets a client just come take turns with a backlog, one delivery each, rather than wait for all of it', async () => {
    const shard = ownQueue('turns');
    await queueUp(shard, Array(40).fill('big'));
    await take(shard, 10);
    // Its first goes to the first lane; the rest of its burst alternates with the backlog's.
    await queueUp(shard, Array(5).fill('small'));
    const order = (await backlogOrder(shard)).map((id) => id!.split('-')[0]);
    expect(order.slice(0, 8)).toEqual(['big', 'small', 'big', 'small', 'big', 'small', 'big', 'small']);
    expect(await shard.first.getWaitingCount()).toBe(1);
  });

  it("sends a client's next delivery to the first lane once a worker took its first-lane one, with no count of it", async () => {
    const { t } = setup;
    const shard = ownQueue('first-taken');
    const fair = fairSharesKeys(shard);
    // Another client's backlog waits meanwhile, so the queue is never empty (which would clear everything).
    await queueUp(shard, ['busy', 'busy', 'busy']);
    await queueUp(shard, ['solo', 'solo']);
    // Its first waits in the first lane, so its second goes to the backlog, and only that one is counted.
    expect(await lanes(shard, ['solo-1', 'solo-2'])).toEqual(['first', 'backlog']);
    expect(await t.redis.hget(fair.counts, 'solo')).toBe('1');
    // A worker takes the first lane's jobs (BullMQ's own move to active), and writes nothing else.
    const connection = t.redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(shard.first.name, null, { connection, prefix: shard.first.opts.prefix, autorun: false });
    try {
      const takenIds = [(await worker.getNextJob('first-taken-1'))?.id, (await worker.getNextJob('first-taken-2'))?.id];
      expect(takenIds.sort()).toEqual(['busy-1', 'solo-1']);
    } finally {
      await worker.close();
      connection.disconnect();
    }
    // Its backlog delivery still waits: the next goes after it.
    await queueUp(shard, ['solo']);
    expect(await lanes(shard, ['solo-3'])).toEqual(['backlog']);
    // A worker takes its backlog (counted taken): nothing of it waits, and its next is first again.
    const solos = (await shard.backlog.getPrioritized(0, -1)).filter((job) => job.data.clientId === 'solo');
    for (const job of solos) await job.remove();
    await turnsTaken(
      t.redis,
      shard,
      solos.map((job) => ({ clientId: 'solo', priority: job.priority })),
    );
    expect(await t.redis.hget(fair.counts, 'solo')).toBeNull();
    await queueUp(shard, ['solo', 'solo']);
    expect(await lanes(shard, ['solo-4', 'solo-5'])).toEqual(['first', 'backlog']);
  });

  it("puts a job alone behind its turn in one round trip, and in the backlog lane alone when its client's first one waits", async () => {
    const { t } = setup;
    // The API's enqueue on a queue of its own (a prefix no worker serves): a status change's job alone goes to the
    // first lane right behind its turn.
    const producer = new WebhookProducer({ ...t.config, queuePrefix: `${t.config.queuePrefix}:alone`, queueShards: 1 });
    const deliveries = new DeliveryQueueService(producer);
    const [shard] = producer.shards.shards;
    const job = (clientId: string, n: number) => ({ deliveryId: `${clientId}-${n}`, clientId, host: 'h', name: clientId });
    const standIn = (id: string) => t.redis.hget(shard.first.toKey(id), 'standIn');
    try {
      await shard.first.waitUntilReady();
      await deliveries.enqueue([job('alone', 1)]);
      // Its second while the first waits: the turn gives it the backlog lane, and the add sent behind the turn finds a
      // stand-in under its id in the first lane and adds nothing there; the stand-in is gone after.
      await deliveries.enqueue([job('alone', 2)]);
      expect(await lanes(shard, ['alone-1', 'alone-2'])).toEqual(['first', 'backlog']);
      expect(await t.redis.exists(shard.first.toKey('alone-2'))).toBe(0);
      expect((await shard.backlog.getJob('alone-2'))?.data).toEqual({ deliveryId: 'alone-2', clientId: 'alone', host: 'h' });
      // After a turn that gave the backlog lane, the next job alone takes its turn before its add (no stand-in): each
      // still goes where its turn says, and no stand-in is left anywhere.
      await deliveries.enqueue([job('alone', 3)]);
      await deliveries.enqueue([job('other', 1)]);
      await deliveries.enqueue([job('other', 2)]);
      expect(await lanes(shard, ['alone-3', 'other-1', 'other-2'])).toEqual(['backlog', 'first', 'backlog']);
      expect(await Promise.all(['alone-2', 'alone-3', 'other-2'].map(standIn))).toEqual([null, null, null]);
      expect(await t.redis.hgetall(fairSharesKeys(shard).counts)).toEqual({ alone: '2', other: '1' });
    } finally {
      await producer.onApplicationShutdown();
    }
  });

  it('leaves a stand-in where the first lane would take a job given the backlog lane, and never one over a job', async () => {
    const { t } = setup;
    const shard = ownQueue('stand-in');
    await queueUp(shard, ['stand']);
    // The turn of its second, with an add to the first lane to follow: a stand-in of one field, gone in time.
    const [turn] = await takeTurns(t.redis, shard, [{ deliveryId: 'stand-2', clientId: 'stand' }], true);
    expect(turn.lane).toBe('backlog');
    expect(await t.redis.hgetall(shard.first.toKey('stand-2'))).toEqual({ standIn: '1' });
    expect(await t.redis.pttl(shard.first.toKey('stand-2'))).toBeGreaterThan(0);
    // The add behind it adds nothing there; the stand-in is taken away.
    await shard.first.add('webhook', { deliveryId: 'stand-2', clientId: 'stand', host: 'h' }, { jobId: 'stand-2' });
    expect(await shard.first.getWaiting(0, -1)).toHaveLength(1);
    expect(await dropStandIn(t.redis, shard, 'stand-2')).toBe(true);
    expect(await t.redis.exists(shard.first.toKey('stand-2'))).toBe(0);
    // Where the add went first after all (a job under the id), the job stays and the caller adds no other.
    expect(await dropStandIn(t.redis, shard, 'stand-1')).toBe(false);
    expect((await shard.first.getJob('stand-1'))?.id).toBe('stand-1');
  });

  it('counts every turn a batch takes, a client as often as its deliveries in it, and clears the counts once nothing waits', async () => {
    const { t } = setup;
    const shard = ownQueue('turns-taken');
    const fair = fairSharesKeys(shard);
    await t.redis.hset(fair.counts, 'batch-a', 5, 'batch-b', 2);
    await t.redis.hset(fair.last, 'batch-a', 9, 'batch-b', 7);
    // A job waits in the first lane: the counts stay, the clock moves to the largest priority taken.
    await t.redis.rpush(shard.first.toKey('wait'), 'a-waiting-job');
    const taken = (clientId: string, priority: number) => ({ clientId, priority });
    await turnsTaken(t.redis, shard, [
      taken('batch-a', 3),
      taken('batch-b', 6),
      taken('batch-a', 4),
      taken('batch-b', 7),
      taken('batch-a', 0),
    ]);
    expect(await t.redis.hgetall(fair.counts)).toEqual({ 'batch-a': '2' });
    // A client with none waiting any more has no last priority either: its next one goes at the clock.
    expect(await t.redis.hgetall(fair.last)).toEqual({ 'batch-a': '9' });
    expect(await t.redis.get(fair.clock)).toBe('7');
    // Nothing waits any more: the next turn taken clears every count, and the clock starts again.
    await t.redis.del(shard.first.toKey('wait'));
    await turnsTaken(t.redis, shard, [taken('batch-a', 8)]);
    expect(await t.redis.exists(fair.counts, fair.last, fair.clock)).toBe(0);
  });
});

describe('fair shares in one worker process while MySQL is slow for a backlog', () => {
  // The worker serves both lanes, two jobs at a time in each.
  const setup = appWithTwoHosts('fairness_slow_records', { WORKER_CONCURRENCY: '2', WEBHOOK_HOST_CONCURRENCY: '8' });

  /** The state of each delivery of an agent, by id. */
  const statesOf = async (agentId: number) =>
    new Map(
      (await setup.t.sql<{ id: string; state: string }>('SELECT id, state FROM deliveries WHERE agent_id = ?', [agentId])).map((row) => [
        row.id,
        row.state,
      ]),
    );
  /**
   * Transactions of this suite's database waiting for a row lock. InnoDB refreshes INNODB_TRX only when it was last
   * read more than 0.1 s before: read more often, it never changes, so each look first waits a little longer.
   */
  const lockWaits = async () => {
    await sleep(150);
    const [row] = await setup.t.sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX x JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id
        WHERE x.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`,
    );
    return Number(row.n);
  };

  it("records a quiet client's webhook at once while the records of another client's backlog wait for MySQL", async () => {
    const { t, a, b } = setup;
    const noisy = await agentWithEvents(
      t,
      { extension_name: 'noisy-records@ringme.ru' },
      [1, 2, 3, 4].map((n) => ({ url: a.url(`/noisy/${n}`), event_type: 'agent-login' as const, method: 'GET' as const })),
    );
    const quiet = await agentWithEvents(t, { extension_name: 'quiet-records@ringme.ru' }, [
      { url: b.url('/quiet'), event_type: 'agent-login', method: 'GET' },
    ]);
    // A holds every webhook until the test lets it go.
    const releases = new Map<string, () => void>();
    a.answer((request) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      releases.set(String(request.headers['webhook-id']), release);
      return { status: 200, release: held };
    });
    // One change, four deliveries: the client's first in the first lane, the three others its backlog.
    await noisy.setStatus('available');
    const ids = (await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE agent_id = ?', [noisy.agentId])).map((row) => row.id);
    const inBacklog = async (id: string) => (await t.redis.exists(`${t.config.queuePrefix}:webhooks-backlog:${id}`)) === 1;
    const backlog: string[] = [];
    for (const id of ids) if (await inBacklog(id)) backlog.push(id);
    const [first] = ids.filter((id) => !backlog.includes(id));
    expect(backlog).toHaveLength(3);

    // The first lane's delivery and two of the backlog (two slots) reach A; the first one goes through.
    await a.waitFor(3);
    releases.get(first)!();
    await eventually(async () => (await statesOf(noisy.agentId)).get(first) === 'succeeded');

    // MySQL is slow for the backlog: its rows are locked, so each record of its attempts waits.
    const locker = await mysql.createConnection({ uri: t.config.databaseUrl });
    try {
      await locker.beginTransaction();
      // By primary key only: no gap of an index is locked, so new deliveries (the quiet client's) are written as usual.
      // By primary key only: no gap of an index is locked, so new deliveries (the quiet client's) are written as usual.
      await locker.query('SELECT * FROM deliveries FORCE INDEX (PRIMARY) WHERE id IN (?) FOR UPDATE', [backlog]);
      // The two backlog webhooks at A are answered one after the other: two records of attempts, both waiting.
      const held = backlog.filter((id) => releases.has(id));
      expect(held).toHaveLength(2);
      releases.get(held[0])!();
      await eventually(async () => (await lockWaits()) === 1);
      releases.get(held[1])!();
      await eventually(async () => (await lockWaits()) === 2);

      // The quiet client's change: its webhook goes, and its attempt is recorded without waiting for the backlog's.
      await quiet.setStatus('available');
      await b.waitFor(1);
      await eventually(async () => [...(await statesOf(quiet.agentId)).values()].join() === 'succeeded');
      expect(await lockWaits()).toBe(2);
      const states = await statesOf(noisy.agentId);
      expect(backlog.map((id) => states.get(id))).toEqual(['pending', 'pending', 'pending']);
    } finally {
      a.answer(() => ({ status: 200 }));
      for (const release of releases.values()) release();
      await locker.rollback();
      await locker.end();
    }
    // The backlog goes through once MySQL is back: every delivery once.
    await eventually(async () => [...(await statesOf(noisy.agentId)).values()].every((state) => state === 'succeeded'));
    expect(new Set(a.requests.map((request) => request.headers['webhook-id'])).size).toBe(4);
    expect(a.requests).toHaveLength(4);
    expect(b.requests).toHaveLength(1);
  });
});
