// The floor's worker process: a bare BullMQ worker (no MySQL, no NestJS) whose job only sends one keep-alive HTTP
// GET to the bench's receiver. Started by bench/run.mjs with FLOOR_* variables; stops on SIGTERM.
import http from 'node:http';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { REDIS_URL, FLOOR_PREFIX, FLOOR_QUEUE, FLOOR_TARGET } = process.env;
const concurrency = Number(process.env.FLOOR_CONCURRENCY);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function get(job) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${FLOOR_TARGET}?${job.data.query}`,
      { agent, headers: { 'user-agent': 'bench-floor', 'webhook-id': job.id, 'agent-event-sequence': String(job.data.sequence) } },
      (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode >= 200 && response.statusCode < 300
            ? resolve(response.statusCode)
            : reject(new Error(`HTTP ${response.statusCode}`)),
        );
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker(FLOOR_QUEUE, get, { connection, prefix: FLOOR_PREFIX, concurrency });
worker.on('error', (error) => console.error(`floor worker: ${error.message}`));
worker.on('ready', () => console.log('floor worker ready'));
process.once('SIGTERM', async () => {
  await worker.close();
  await connection.quit();
  agent.destroy();
  process.exit(0);
});
