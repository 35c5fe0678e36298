// `npm run reset`: drops what `npm start` created — the database of DATABASE_URL and the Redis keys of
// QUEUE_PREFIX — after a confirmation (or at once with --yes). Nothing else on either server is touched.
import 'dotenv/config';
import { createInterface } from 'node:readline/promises';
import { deleteRedisKeys, dropDatabase } from './services.mjs';

const databaseUrl = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const queuePrefix = process.env.QUEUE_PREFIX || '{agent-events}';
const database = new URL(databaseUrl);
const what =
  `the database ${database.pathname.slice(1)} on ${database.host} and the Redis keys starting with "${queuePrefix}:" ` +
  `on ${new URL(redisUrl).host}`;

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
try {
  await dropDatabase(databaseUrl);
  const keys = await deleteRedisKeys(redisUrl, `${queuePrefix}:*`);
  console.log(`agent-events: deleted ${what} (${keys} keys); \`npm start\` creates them afresh.`);
} catch (error) {
  console.error(`agent-events: reset failed: ${error.message}`);
  process.exit(1);
}
