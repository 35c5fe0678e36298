// The naive durable reference, API side: what a plain implementation of a status change does, one request at a time.
// node:http, a mysql2 pool and a BullMQ queue; no framework and no batching. One transaction per change (lock the
// agent, update it, write the status change and one delivery row per subscription), then one `queue.add` per delivery.
// It writes the same rows, ids and jobs as the service (src/status/status.service.ts, src/status/change_agents.sql): the
// status change records the agent's name at that moment, and a delivery row holds facts (its status change and its
// subscription), no payload; the worker builds the payload when it sends. Run by bench/run.mjs.
import http from 'node:http';
import { pool, transaction } from './db.mjs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { newMessageId } from '../../dist/src/common/message-id.js';
import { deliveryJob } from '../../dist/src/delivery-queue/delivery-job.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE } from '../../dist/src/delivery-queue/queue.constants.js';

const { REDIS_URL, QUEUE_PREFIX, ADMIN_TOKEN } = process.env;
const PORT = Number(process.env.PORT);
const NAME_COLUMN = { local: 'extension_name', remote: 'agent_number' };

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const queue = new Queue(WEBHOOK_QUEUE, { connection: redis, prefix: QUEUE_PREFIX, defaultJobOptions: WEBHOOK_JOB_OPTIONS });

/** The agent after the change (null if there is none) and the delivery jobs to enqueue. */
function changeStatus(clientId, type, agentId, status) {
  return transaction(async (db) => {
    const [[agent]] = await db.query(
      `SELECT id, client_id, agent_type, extension_name, agent_number, agent_status, status_sequence
         FROM agents WHERE id = ? AND client_id = ? AND agent_type = ? FOR UPDATE`,
      [agentId, clientId, type],
    );
    if (!agent) return { agent: null, jobs: [] };
    if (agent.agent_status === status) return { agent, jobs: [] };
    const sequence = agent.status_sequence + 1;
    await db.query('UPDATE agents SET agent_status = ?, status_sequence = ? WHERE id = ?', [status, sequence, agent.id]);
    agent.agent_status = status;
    const changedAt = new Date();
    const [{ insertId }] = await db.query(
      `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
       VALUES (?, ?, ?, ?, ?, 'api', ?, ?, ?)`,
      [
        clientId,
        agent.id,
        type,
        status === 'available' ? 'logged_out' : 'available',
        status,
        sequence,
        agent[NAME_COLUMN[type]],
        changedAt,
      ],
    );
    const eventType = status === 'available' ? 'agent-login' : 'agent-logout';
    const [subscriptions] = await db.query('SELECT id, url, method FROM agent_events WHERE agent_id = ? AND event_type = ? ORDER BY id', [
      agent.id,
      eventType,
    ]);
    const jobs = [];
    for (const subscription of subscriptions) {
      const id = newMessageId();
      await db.query(
        `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, clientId, agent.id, subscription.id, insertId, subscription.url, subscription.method, changedAt, changedAt],
      );
      const { name } = deliveryJob('', { clientId, agentType: type, agentId: agent.id, eventType, url: subscription.url });
      jobs.push({ id, name });
    }
    return { agent, jobs };
  });
}

function reply(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function handle(request, response) {
  const match = /^\/client\/([^/]+)\/agent\/(local|remote)\/(\d+)\/?$/.exec(request.url);
  if (request.method !== 'PUT' || !match) return reply(response, 404, { error: 'not_found' });
  if (request.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return reply(response, 401, { error: 'unauthorized' });
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  let status;
  try {
    status = JSON.parse(Buffer.concat(chunks).toString('utf8')).status;
  } catch {
    return reply(response, 400, { error: 'invalid_body' });
  }
  if (status !== 'available' && status !== 'logged_out') return reply(response, 400, { error: 'invalid_status' });
  const [, clientId, type, agentId] = match;
  const { agent, jobs } = await changeStatus(decodeURIComponent(clientId), type, Number(agentId), status);
  if (!agent) return reply(response, 404, { error: 'agent_not_found' });
  // After the commit; the job id is the delivery id.
  for (const job of jobs) await queue.add(job.name, { deliveryId: job.id }, { jobId: job.id });
  reply(response, 200, { id: agent.id, [NAME_COLUMN[type]]: agent[NAME_COLUMN[type]] ?? '', status: agent.agent_status });
}

const server = http.createServer((request, response) =>
  handle(request, response).catch((error) => {
    console.error(`naive api: ${error.stack ?? error}`);
    if (!response.headersSent) reply(response, 500, { error: 'internal' });
  }),
);
server.listen(PORT, '127.0.0.1', () => console.log(`naive api ready on port ${PORT}`));

process.once('SIGTERM', async () => {
  server.close();
  server.closeIdleConnections();
  await queue.close();
  await redis.quit();
  await pool.end();
  process.exit(0);
});
