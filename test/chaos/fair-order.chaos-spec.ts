import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  afterNewerAccepted,
  inversions,
  expectFairAndExact,
  noisyNeighbour,
  orderedThroughRetries,
  type Service,
} from '../support/fair-order.js';
import { Receiver } from '../support/receiver.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from '../support/processes.js';
import { deleteQueueKeys, suiteResources } from '../support/test-app.js';

const WORKERS = 2;
const CONCURRENCY = 8;
const CHANGES = 300;

/**
 * Fair shares and per-agent order across processes: one API process and two worker processes on one database and
 * one queue prefix. The counts of queued deliveries per client are shared in Redis; the order is kept by what each
 * worker reads in MySQL.
 */
describe('fair shares and per-agent order with one API and two worker processes', () => {
  const resources = suiteResources('fairorder');
  const running: ServiceProcess[] = [];
  let pool: mysql.Pool;
  let service: Service;
  let redis: Redis;

  beforeAll(async () => {
    const env = await prepareCompiledService(resources, {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
      WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms,50ms,50ms,50ms',
      ORDER_HOLD_MS: '600000',
    });
    const port = await freePort();
    const api = runService('main', { ...env, PORT: String(port) });
    running.push(api);
    for (let index = 0; index < WORKERS; index++) {
      const worker = runService('worker', { ...env, WORKER_HEALTH_PORT: String(await freePort()) });
      running.push(worker);
      await worker.waitForOutput('Delivery worker running', 60_000);
    }
    await api.waitForOutput('Delivery worker:', 60_000);
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 4 });
    redis = new Redis(resources.redisUrl);
    const base = `http://127.0.0.1:${port}`;
    service = {
      http: () => request(base),
      sql: async (query, params = []) => (await pool.query(query, params))[0] as never,
    };
  }, 240_000);

  afterAll(async () => {
    for (const child of running) child.child.kill('SIGKILL');
    await Promise.all(running.map((child) => child.exited));
    await pool?.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool?.end();
    redis ??= new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  it("delivers a quiet client's changes past a noisy client's backlog, whichever worker takes them", async () => {
    const a = await new Receiver('127.0.0.1').start();
    const b = await new Receiver('127.0.0.2').start();
    try {
      const run = await noisyNeighbour(service, { prefix: 'chaos', agents: 20, eventsPerAgent: 100, aReplyDelayMs: 50, changes: 20, a, b });
      // Both workers' requests in flight, and as many again: in one FIFO queue it would be the rest of 2,000.
      // At least once across processes: a webhook comes twice only when a worker lost its job's lock; none here.
      expectFairAndExact(run, 4 * CONCURRENCY * WORKERS);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 240_000);

  it(`delivers ${CHANGES} quick changes of one agent to one URL in order across both workers, though every 20th is refused once`, async () => {
    const receiver = await new Receiver().start();
    try {
      const { log, deliveries } = await orderedThroughRetries(service, receiver, {
        clientId: 'ordered',
        changes: CHANGES,
        rejectEvery: 20,
        drainMs: 180_000,
        queue: { redis, queuePrefix: resources.queuePrefix },
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
  }, 240_000);
});
