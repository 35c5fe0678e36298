// `npm run reset`: drops what `npm start` created — the database of DATABASE_URL and the Redis keys of
// QUEUE_PREFIX (of every queue's prefix with QUEUE_SHARDS) — after a confirmation (or at once with --yes). Nothing
// else on either server is touched.
import 'dotenv/config';
import { createInterface } from 'node:readline/promises';
import { deleteRedisKeys, dropDatabase } from './services.mjs';

const databaseUrl = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const queuePrefix = process.env.QUEUE_PREFIX || '{agent-events}';
const shards = Number(process.env.QUEUE_SHARDS || 1);
// The queues' prefixes as the service makes them: from its build (`npm start` compiles it), needed only with shards.
const prefixes = shards > 1 ? (await import('../dist/src/redis/queue-prefixes.js')).shardPrefixes(queuePrefix, shards) : [queuePrefix];
const database = new URL(databaseUrl);
const what =
  `the database ${database.pathname.slice(1)} on ${database.host} and the Redis keys starting with ` +
  `${prefixes.map((prefix) => `"${prefix}:"`).join(', ')} on ` +
  (process.env.REDIS_CLUSTER_NODES
    ? `every master of the cluster ${process.env.REDIS_CLUSTER_NODES}`
    : process.env.REDIS_SENTINELS
      ? `the master the sentinels ${process.env.REDIS_SENTINELS} name`
      : new URL(redisUrl).host);

if (!process.argv.includes('--yes')) {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(
    `This deletes ${what} (clients, agents, agent events, deliveries, queued jobs). Type "yes" to go on: `,
  );
  prompt.close();
  if (answer.trim() !== 'yes') {
    console.log('agent-events: nothing was deleted.');
    process.exit(1);
  }
}
/**
 * With REDIS_CLUSTER_NODES or REDIS_SENTINELS, the keys are where the service keeps them: every master of the cluster
 * is scanned (each holds its own slots), or the master the sentinels name. The connection is the service's own
 * (dist/, as `npm start` builds it).
 */
async function deleteKeysOfTopology(pattern) {
  const { loadConfig } = await import('../dist/src/config/configuration.js');
  const { createRedis } = await import('../dist/src/redis/redis-connections.js');
  const client = createRedis(loadConfig(process.env), 'health', { lazyConnect: false, enableOfflineQueue: true });
  try {
    await client.ping();
    const servers = client.isCluster ? client.nodes('master') : [client];
    let removed = 0;
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        // One key at a time: on a cluster a multi-key UNLINK needs its keys in one slot.
        for (const key of keys) removed += await server.unlink(key);
      } while (cursor !== '0');
    }
    return removed;
  } finally {
    client.disconnect();
  }
}
const topology = process.env.REDIS_CLUSTER_NODES || process.env.REDIS_SENTINELS;

try {
  await dropDatabase(databaseUrl);
  let keys = 0;
  for (const prefix of prefixes) {
    keys += topology ? await deleteKeysOfTopology(`${prefix}:*`) : await deleteRedisKeys(redisUrl, `${prefix}:*`);
  }
  console.log(`agent-events: deleted ${what} (${keys} keys); \`npm start\` creates them afresh.`);
} catch (error) {
  console.error(`agent-events: reset failed: ${error.message}`);
  process.exit(1);
}
