import mysql from 'mysql2/promise';
import request from 'supertest';
import { shardOf } from '../../src/delivery-queue/queue-shards.js';
import { shardPrefixes } from '../../src/redis/queue-prefixes.js';
import { agentsWithWebhooks, allSucceeded, burst } from '../support/bursts.js';
import { OwnRedisCluster } from '../support/own-services.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from '../support/processes.js';
import { Receiver } from '../support/receiver.js';
import { suiteResources } from '../support/test-app.js';

const SHARDS = 3;

/** QUEUE_SHARDS=3 on a Redis Cluster of the suite's own (3 masters, 3 replicas): API and worker as processes. */
describe('three queues on a Redis Cluster of 3 masters', () => {
  const resources = suiteResources('shards-cluster');
  const prefixes = shardPrefixes(resources.queuePrefix, SHARDS);
  const cluster = new OwnRedisCluster();
  const running: ServiceProcess[] = [];
  let api: string;
  let pool: mysql.Pool;
  let receiver: Receiver;

  async function start(entry: 'main' | 'worker', env: Record<string, string>): Promise<string> {
    const port = await freePort();
    const service = runService(entry, { ...env, PORT: String(port), WORKER_HEALTH_PORT: String(port) });
    running.push(service);
    await service.waitForOutput(entry === 'main' ? 'Delivery worker:' : 'Delivery worker running', 60_000);
    return `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    await cluster.start();
    const seed = `127.0.0.1:${cluster.masters(resources.queuePrefix).owner}`;
    const env = await prepareCompiledService(resources, {
      REDIS_URL: `redis://${seed}`,
      REDIS_CLUSTER_NODES: seed,
      QUEUE_SHARDS: String(SHARDS),
      DEFAULT_AGENT_EVENT_LIMIT: '1000',
    });
    api = await start('main', env);
    await start('worker', env);
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 4 });
    receiver = await new Receiver().start();
  }, 180_000);

  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await receiver?.stop();
    await pool?.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool?.end();
    await cluster.remove();
  });

  it("has each queue's hash slot on a different master", () => {
    const owners = prefixes.map((prefix) => cluster.masters(prefix).owner);
    expect(new Set(owners).size).toBe(SHARDS);
  });

  it('delivers the webhooks of clients on every queue exactly once', async () => {
    await request(api).get('/health/ready').expect(200);
    // A client per queue: its name is the first free one that falls in that queue.
    const clientIds = prefixes.map((_, shard) => {
      let n = 0;
      while (shardOf(`s${shard}-${n}`, SHARDS) !== shard) n++;
      return `s${shard}-${n}`;
    });
    await Promise.all(
      clientIds.map(async (clientId) => {
        const { ids } = await agentsWithWebhooks([api], clientId, 10, receiver.url());
        await burst([api], clientId, ids, 6);
      }),
    );
    for (const clientId of clientIds) {
      const rows = await allSucceeded(pool, clientId, 60);
      const requests = receiver.requests.filter((seen) => rows.some((row) => row.id === seen.headers['webhook-id']));
      expect(requests).toHaveLength(60);
      expect(new Set(requests.map((seen) => seen.headers['webhook-id'])).size).toBe(60);
    }
  }, 120_000);
});
