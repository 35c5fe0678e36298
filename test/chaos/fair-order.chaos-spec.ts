import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  afterNewerAccepted,
  inversions,
  expectFairAndExact,
  lanesOf,
  noisyNeighbour,
  orderedThroughRetries,
  type Service,
} from '../support/fair-order.js';
import { Receiver } from '../support/receiver.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from '../support/processes.js';
import { deleteQueueKeys, suiteResources } from '../support/test-app.js';

const CONCURRENCY = 8;
const CHANGES = 300;
const SERVICE_ENV = {
  WORKER_CONCURRENCY: String(CONCURRENCY),
  WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
  WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms,50ms,50ms,50ms',
  ORDER_HOLD_MS: '600000',
};

interface Deployment {
  service: Service;
  redis: Redis;
  queuePrefix: string;
  /** Each worker process's `/metrics` page. */
  metrics: (() => Promise<string>)[];
}

/**
 * One API process and a worker process per entry of `workers` (each entry's environment on top of the suite's), on
 * one database and one queue prefix: the counts of queued deliveries per client are shared in Redis; the order is kept
 * by what each worker reads in MySQL.
 */
function deployment(name: string, workers: Record<string, string>[]): Deployment {
  const resources = suiteResources(name);
  const running: ServiceProcess[] = [];
  let pool: mysql.Pool | undefined;
  const deployed = { queuePrefix: resources.queuePrefix, metrics: [] } as unknown as Deployment;

  beforeAll(async () => {
    const env = await prepareCompiledService(resources, SERVICE_ENV);
    const port = await freePort();
    const api = runService('main', { ...env, PORT: String(port) });
    running.push(api);
    for (const workerEnv of workers) {
      const healthPort = await freePort();
      const worker = runService('worker', { ...env, ...workerEnv, WORKER_HEALTH_PORT: String(healthPort) });
      running.push(worker);
      await worker.waitForOutput('Delivery worker running', 60_000);
      deployed.metrics.push(
        async () => (await request(`http://127.0.0.1:${healthPort}`).get('/metrics').auth('admin', env.ADMIN_TOKEN!)).text,
      );
    }
    await api.waitForOutput('Delivery worker:', 60_000);
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 4 });
    deployed.redis = new Redis(resources.redisUrl);
    const base = `http://127.0.0.1:${port}`;
    deployed.service = {
      http: () => request(base),
      sql: async (query, params = []) => (await pool!.query(query, params))[0] as never,
    };
  }, 240_000);

  afterAll(async () => {
    for (const child of running) child.child.kill('SIGKILL');
    await Promise.all(running.map((child) => child.exited));
    await pool?.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool?.end();
    deployed.redis ??= new Redis(resources.redisUrl);
    await deleteQueueKeys(deployed.redis, resources.queuePrefix);
    deployed.redis.disconnect();
  });
  return deployed;
}

/** The worker's count of attempts made (`agent_events_delivery_attempts_total`, every outcome) from its `/metrics`. */
function attemptsMade(page: string): number {
  return page
    .split('\n')
    .filter((line) => line.startsWith('agent_events_delivery_attempts_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/** Per-agent order across the deployment's workers, through a receiver that refuses every 20th request once. */
async function expectOrderedThroughRetries(deployed: Deployment, clientId: string): Promise<void> {
  const receiver = await new Receiver().start();
  try {
    const { log, deliveries } = await orderedThroughRetries(deployed.service, receiver, {
      clientId,
      changes: CHANGES,
      rejectEvery: 20,
      drainMs: 180_000,
      queue: { redis: deployed.redis, queuePrefix: deployed.queuePrefix },
    });
    const accepted = log.filter((entry) => entry.status < 300).map((entry) => entry.sequence);
    expect(log.filter((entry) => entry.status === 503)).toHaveLength(CHANGES / 20);
    expect(inversions(accepted, false)).toBe(0);
    expect(accepted[accepted.length - 1]).toBe(CHANGES);
    // Nothing older arrived once a newer one had been accepted (a duplicate of the newest is at-least-once).
    expect(afterNewerAccepted(log, false)).toEqual([]);
    expect([...new Set(accepted)]).toEqual(Array.from({ length: CHANGES }, (_, index) => index + 1));
    expect(deliveries.filter((row) => row.state !== 'succeeded')).toEqual([]);
  } finally {
    await receiver.stop();
  }
}

describe('fair shares and per-agent order with one API and two worker processes', () => {
  const deployed = deployment('fairorder', [{}, {}]);

  it("delivers a quiet client's changes past a noisy client's backlog, whichever worker takes them", async () => {
    const a = await new Receiver('127.0.0.1').start();
    const b = await new Receiver('127.0.0.2').start();
    try {
      const run = await noisyNeighbour(deployed.service, {
        prefix: 'chaos',
        agents: 20,
        eventsPerAgent: 100,
        aReplyDelayMs: 50,
        changes: 20,
        a,
        b,
      });
      // Both workers' requests in flight, and as many again: in one FIFO queue it would be the rest of 2,000.
      // At least once across processes: a webhook comes twice only when a worker lost its job's lock; none here.
      expectFairAndExact(run, 4 * CONCURRENCY * 2);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 240_000);

  it(
    `delivers ${CHANGES} quick changes of one agent to one URL in order across both workers, though every 20th is refused once`,
    () => expectOrderedThroughRetries(deployed, 'ordered'),
    240_000,
  );
});

describe('a worker process per lane: WORKER_LANES=first beside WORKER_LANES=backlog', () => {
  const deployed = deployment('lanes', [{ WORKER_LANES: 'first' }, { WORKER_LANES: 'backlog' }]);

  it("runs a quiet client's every change on the first lane's worker, never behind the noisy client's backlog", async () => {
    const a = await new Receiver('127.0.0.1').start();
    const b = await new Receiver('127.0.0.2').start();
    try {
      const run = await noisyNeighbour(deployed.service, {
        prefix: 'lanes',
        agents: 20,
        eventsPerAgent: 100,
        aReplyDelayMs: 50,
        changes: 20,
        a,
        b,
      });
      // B's job is taken at once by a worker that runs no backlog: only A's requests that end meanwhile arrive first.
      expectFairAndExact(run, 2 * CONCURRENCY);
      const queue = { redis: deployed.redis, queuePrefix: deployed.queuePrefix };
      const lanesOfA = await lanesOf(deployed.service, queue, 'lanes-noisy');
      expect(await lanesOf(deployed.service, queue, 'lanes-quiet')).toEqual({ first: 20, backlog: 0, none: 0 });
      expect(lanesOfA).toMatchObject({ backlog: 2000 - lanesOfA.first, none: 0 });
      expect(lanesOfA.first).toBeLessThanOrEqual(20);
      // Each worker ran its lane's jobs and no other: the first lane's worker B's 20 and A's first, the other A's rest.
      const [firstLane, backlogLane] = await Promise.all(deployed.metrics.map(async (page) => attemptsMade(await page())));
      expect(firstLane).toBe(20 + lanesOfA.first);
      expect(backlogLane).toBe(lanesOfA.backlog);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 240_000);

  it(
    `delivers ${CHANGES} quick changes of one agent to one URL in order across the two lanes, though every 20th is refused once`,
    () => expectOrderedThroughRetries(deployed, 'ordered'),
    240_000,
  );
});
