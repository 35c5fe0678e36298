import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import { QueueShards, shardOf } from '../src/delivery-queue/queue-shards.js';
import { shardPrefixes } from '../src/redis/queue-prefixes.js';
import { ReconcilerService } from '../src/delivery-worker/reconciler.service.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { afterNewerAccepted, expectFairAndExact, inversions, noisyNeighbour, orderedThroughRetries } from './support/fair-order.js';
import { freePort, prepareCompiledService, runService } from './support/processes.js';
import { eventually, Receiver } from './support/receiver.js';
import { ADMIN_TOKEN, createTestApp, deleteQueueKeys, suiteResources, type TestApp } from './support/test-app.js';

const SHARDS = 3;
/** 8 per queue, as the one queue of test/fairness.e2e-spec.ts has. */
const CONCURRENCY = 24;

/** QUEUE_SHARDS=3 on one Redis: each client's deliveries in its own queue, with fair shares and per-agent order kept. */
describe('deliveries spread over three queues', () => {
  let t: TestApp;
  let shards: QueueShards;
  /** The noisy and the quiet client of the fair-shares scenario. */
  let a: Receiver;
  let b: Receiver;
  /** Everyone else's. */
  let c: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'shards',
      {
        QUEUE_SHARDS: String(SHARDS),
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
        WEBHOOK_RETRY_SCHEDULE: '0,2s',
        // The test runs the reconciler itself, after it has deleted the queues' keys.
        RECONCILE_INTERVAL_MS: '3600000',
      },
      { withWorker: true },
    );
    shards = t.app.get(QueueShards);
    a = await new Receiver('127.0.0.1').start();
    b = await new Receiver('127.0.0.2').start();
    c = await new Receiver().start();
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await c.stop();
    await t.close();
  });

  /** Logged-in agents of fresh clients, until every queue has at least one client's (at least six clients). */
  async function clientsOnEveryShard(receiver: Receiver) {
    const agents: Awaited<ReturnType<typeof agentWithEvents>>[] = [];
    while (agents.length < 6 || new Set(agents.map((agent) => shardOf(agent.clientId, SHARDS))).size < SHARDS) {
      const agent = await agentWithEvents(t, { extension_name: `spread${agents.length}@ringme.ru` }, [
        { url: receiver.url(`/spread/${agents.length}`), event_type: 'agent-login', method: 'POST' },
      ]);
      await agent.setStatus('available');
      agents.push(agent);
    }
    return agents;
  }

  /** Which queues hold a job of this id: the prefixes of those whose job hash exists (in either lane). */
  async function queuesHolding(id: string): Promise<string[]> {
    const prefixes = shardPrefixes(t.config.queuePrefix, SHARDS);
    const found = await Promise.all(
      prefixes.map((prefix) => t.redis.exists(`${prefix}:webhooks:${id}`, `${prefix}:webhooks-backlog:${id}`)),
    );
    return prefixes.filter((_, index) => found[index] > 0);
  }

  const deliveriesOf = (clientIds: string[]) =>
    t.sql<{ id: string; client_id: string; state: string }>('SELECT id, client_id, state FROM deliveries WHERE client_id IN (?)', [
      clientIds,
    ]);

  it("puts each client's deliveries in its own queue, three different ones in all, and delivers each webhook once", async () => {
    c.answer(() => ({ status: 200 }));
    const before = c.requests.length;
    const agents = await clientsOnEveryShard(c);
    await c.waitFor(before + agents.length);
    const rows = await deliveriesOf(agents.map((agent) => agent.clientId));
    expect(rows).toHaveLength(agents.length);
    const prefixes = shardPrefixes(t.config.queuePrefix, SHARDS);
    for (const row of rows) {
      await eventually(
        async () => (await t.sql<{ state: string }>('SELECT state FROM deliveries WHERE id = ?', [row.id]))[0].state === 'succeeded',
      );
      expect(await queuesHolding(row.id)).toEqual([prefixes[shardOf(row.client_id, SHARDS)]]);
    }
    expect(new Set(rows.map((row) => shardOf(row.client_id, SHARDS))).size).toBe(SHARDS);
    const ids = c.requests.slice(before).map((received) => String(received.headers['webhook-id']));
    expect(ids.sort()).toEqual(rows.map((row) => row.id).sort());
  });

  it("keeps a quiet client's fair share beside a noisy client's backlog in the same queue, every delivery exactly once", async () => {
    // Two clients named so that both are in one queue: the fair shares inside it are what this shows.
    let prefix = 'sh';
    for (let n = 0; shardOf(`${prefix}-noisy`, SHARDS) !== shardOf(`${prefix}-quiet`, SHARDS); n++) prefix = `sh${n}`;
    const run = await noisyNeighbour(t, { prefix, agents: 20, eventsPerAgent: 100, aReplyDelayMs: 20, changes: 20, a, b });
    expectFairAndExact(run, (4 * CONCURRENCY) / SHARDS);
  }, 180_000);

  it("delivers one agent's quick changes in order through retries, in its client's queue", async () => {
    const clientId = 'sh-ordered';
    const { log, deliveries } = await orderedThroughRetries(t, c, {
      clientId,
      changes: 100,
      rejectEvery: 20,
      drainMs: 120_000,
      queue: { redis: t.redis, queuePrefix: shardPrefixes(t.config.queuePrefix, SHARDS)[shardOf(clientId, SHARDS)] },
    });
    const accepted = log.filter((entry) => entry.status < 300).map((entry) => entry.sequence);
    expect(inversions(accepted)).toBe(0);
    expect(afterNewerAccepted(log)).toEqual([]);
    expect(accepted).toEqual(Array.from({ length: 100 }, (_, index) => index + 1));
    expect(deliveries.filter((row) => row.state !== 'succeeded')).toEqual([]);
  }, 180_000);

  it('enqueues each pending delivery again into its own queue once Redis lost every queue’s keys', async () => {
    // Every first attempt is refused: the deliveries wait 2 s for their retry, and then Redis loses their jobs.
    const refused = new Set<string>();
    c.answer((received) => {
      const id = String(received.headers['webhook-id']);
      if (refused.has(id)) return { status: 200 };
      refused.add(id);
      return { status: 503 };
    });
    const before = c.requests.length;
    const agents = await clientsOnEveryShard(c);
    await c.waitFor(before + agents.length);
    const rows = await deliveriesOf(agents.map((agent) => agent.clientId));
    await eventually(
      async () =>
        (await t.sql('SELECT id FROM deliveries WHERE client_id IN (?) AND attempts = 1', [agents.map((agent) => agent.clientId)]))
          .length === rows.length,
    );
    expect(await t.loseRedisData()).toBeGreaterThan(0);
    for (const row of rows) expect(await queuesHolding(row.id)).toEqual([]);

    // Due, and past the reconciler's grace for deliveries still being enqueued.
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(await t.app.get(ReconcilerService).reconcile(Infinity)).toBe(rows.length);
    const prefixes = shardPrefixes(t.config.queuePrefix, SHARDS);
    await eventually(
      async () => (await deliveriesOf(agents.map((agent) => agent.clientId))).every((row) => row.state === 'succeeded'),
      30_000,
    );
    for (const row of rows) expect(await queuesHolding(row.id)).toEqual([prefixes[shardOf(row.client_id, SHARDS)]]);
    // Each webhook twice: refused once, then sent again from its new job.
    const received = c.requests.slice(before).map((request) => String(request.headers['webhook-id']));
    expect(received.sort()).toEqual(rows.flatMap((row) => [row.id, row.id]).sort());
  }, 60_000);

  it("is ready once every queue's keys take writes, and it probes each queue's hash slot", async () => {
    expect(shards.shards.map((shard) => [shard.first.opts.prefix, shard.backlog.opts.prefix])).toEqual(
      shardPrefixes(t.config.queuePrefix, SHARDS).map((prefix) => [prefix, prefix]),
    );
    await t.http().get('/health/ready').expect(200);
    for (const prefix of shardPrefixes(t.config.queuePrefix, SHARDS)) expect(await t.redis.exists(`${prefix}:health`)).toBe(1);
  });
});

/** Bull Board loads only in the compiled service (see queue-board.module.ts): the real API, with three queues. */
describe('Bull Board with three queues', () => {
  const resources = suiteResources('shards_board');
  const prefixes = shardPrefixes(resources.queuePrefix, SHARDS);
  let api: ReturnType<typeof runService> | undefined;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = await prepareCompiledService(resources, { QUEUE_SHARDS: String(SHARDS), PORT: String(port), LOG_LEVEL: 'warn' });
    api = runService('main', env);
    await api.waitForOutput('Bull Board', 60_000);
  }, 180_000);
  afterAll(async () => {
    api?.child.kill('SIGKILL');
    await api?.exited;
    const pool = mysql.createPool({ uri: resources.databaseUrl.replace(/\/[^/]*$/, '/') });
    await pool.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool.end();
    const redis = new Redis(resources.redisUrl);
    for (const prefix of prefixes) await deleteQueueKeys(redis, prefix);
    redis.disconnect();
  });

  it('lists each queue, both its lanes, under its prefix', async () => {
    const answer = await eventually(async () => {
      const response = await request(base).get('/admin/queues/api/queues').auth('admin', ADMIN_TOKEN);
      return response.status === 200 && response;
    });
    const names = (answer.body as { queues: { name: string }[] }).queues.map((queue) => queue.name);
    expect(names.sort()).toEqual(prefixes.flatMap((prefix) => [`${prefix}:webhooks`, `${prefix}:webhooks-backlog`]).sort());
  });
});
