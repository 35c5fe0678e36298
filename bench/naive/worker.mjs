// The naive durable reference, worker side: a BullMQ worker whose job loads its delivery row with its status change,
// builds the payload from the change's columns, sends the webhook the way the service does (same URL, query, headers
// and signature; src/webhook-sender/webhook-sender.service.ts) and records the attempt and the delivery's new state in
// one transaction. One job at a time per slot; no batching anywhere.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { pool, transaction } from './db.mjs';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  buildWebhookRequest,
  DEFAULT_RETRY_SCHEDULE,
  parseRetrySchedule,
  readLimited,
  retryDelayMs,
  signatureHeader,
  snippet,
} from '../../dist/libs/webhook/src/index.js';
import { USER_AGENT } from '../../dist/src/webhook-sender/user-agent.js';
import { WEBHOOK_QUEUE } from '../../dist/src/delivery-queue/queue.constants.js';

const { REDIS_URL, QUEUE_PREFIX } = process.env;
const CONCURRENCY = Number(process.env.CONCURRENCY || 64);
const TIMEOUT_MS = 10_000;
const SECRET_OVERLAP_MS = 24 * 3600_000;
const SCHEDULE = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);

// What the service's HTTP client (axios) adds to every request, and the response encodings it decodes.
const ACCEPT = 'application/json, text/plain, */*';
const ACCEPT_ENCODING = 'gzip, compress, deflate, br';
const DECODERS = {
  gzip: zlib.createGunzip,
  'x-gzip': zlib.createGunzip,
  deflate: zlib.createInflate,
  compress: zlib.createInflate,
  br: zlib.createBrotliDecompress,
};
const NAME_FIELD = { local: 'extension_name', remote: 'agent_number' };
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/** One request; resolves { statusCode, error, responseSnippet, durationMs }, never rejects. */
function send(delivery) {
  const started = performance.now();
  const timestamp = Math.floor(Date.now() / 1000);
  const rotated = delivery.secret_rotated_at?.getTime() ?? 0;
  const secrets =
    delivery.previous_signing_secret && rotated + SECRET_OVERLAP_MS > Date.now()
      ? [delivery.signing_secret, delivery.previous_signing_secret]
      : [delivery.signing_secret];
  // The spec's AgentEventData, in its order, from the status change's columns (as agentEventPayload in
  // src/status/status-rules.ts builds it).
  const payload = {
    agent_status: delivery.agent_status,
    agent_type: delivery.agent_type,
    event_source: delivery.event_source,
    agent_id: String(delivery.agent_id),
    [NAME_FIELD[delivery.agent_type]]: delivery.agent_name ?? '',
  };
  const request = buildWebhookRequest(delivery.method, delivery.url, payload);
  const url = new URL(request.url);
  const headers = {
    Accept: ACCEPT,
    ...request.headers,
    'User-Agent': USER_AGENT,
    'webhook-id': delivery.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, delivery.id, timestamp, request.signedContent),
    'Agent-Event-Sequence': String(delivery.sequence),
    'Agent-Event-Changed-At': delivery.changed_at.toISOString(),
    'Accept-Encoding': ACCEPT_ENCODING,
  };
  if (request.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(request.body));
  const durationMs = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const outgoing = (url.protocol === 'https:' ? https : http).request(
      url,
      { method: request.method, headers, agent: agents[url.protocol], timeout: TIMEOUT_MS },
      (response) => {
        const decoder = DECODERS[response.headers['content-encoding']];
        readLimited(decoder ? response.pipe(decoder()) : response, 64 * 1024).then(
          ({ text }) =>
            resolve({
              statusCode: response.statusCode,
              error: null,
              responseSnippet: text ? snippet(text) : null,
              durationMs: durationMs(),
            }),
          (error) =>
            resolve({
              statusCode: null,
              error: `${error.code ?? 'error'}: ${error.message}`,
              responseSnippet: null,
              durationMs: durationMs(),
            }),
        );
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`timeout: no complete answer within ${TIMEOUT_MS} ms`)));
    outgoing.on('error', (error) =>
      resolve({
        statusCode: null,
        error: `${error.code ?? 'error'}: ${error.message}`.slice(0, 500),
        responseSnippet: null,
        durationMs: durationMs(),
      }),
    );
    outgoing.end(request.body);
  });
}

class RetryLater extends Error {
  constructor(delayMs, reason) {
    super(reason);
    this.delayMs = delayMs;
  }
}

async function deliver(job) {
  const [[delivery]] = await pool.query(
    `SELECT d.id, d.url, d.method, d.state, d.attempts, d.attempts_before_retry,
            s.agent_id, s.agent_type, s.agent_status, s.event_source, s.agent_name, s.sequence, s.changed_at,
            c.signing_secret, c.previous_signing_secret, c.secret_rotated_at
       FROM deliveries d
       JOIN status_changes s ON s.id = d.status_change_id
       JOIN clients c ON c.id = d.client_id
      WHERE d.id = ?`,
    [job.data.deliveryId],
  );
  if (!delivery || delivery.state !== 'pending') return 'skipped';
  const startedAt = new Date();
  const result = await send(delivery);
  const attemptNumber = delivery.attempts + 1;
  const finishedAt = new Date(startedAt.getTime() + result.durationMs);
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const reason = result.error ?? `HTTP ${result.statusCode}`;
  const delayMs = ok ? null : retryDelayMs(SCHEDULE, attemptNumber - delivery.attempts_before_retry);
  const state = ok ? 'succeeded' : delayMs === null ? 'dead' : 'pending';
  await transaction(async (db) => {
    await db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        delivery.id,
        attemptNumber,
        startedAt,
        result.durationMs,
        result.statusCode,
        result.error?.slice(0, 512) ?? null,
        result.responseSnippet,
      ],
    );
    await db.query(
      `UPDATE deliveries SET state = ?, attempts = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?, held_reason = NULL,
              delivered_at = COALESCE(?, delivered_at)
        WHERE id = ?`,
      [
        state,
        attemptNumber,
        result.statusCode,
        ok ? null : reason.slice(0, 512),
        state === 'pending' ? new Date(finishedAt.getTime() + delayMs) : null,
        ok ? finishedAt : null,
        delivery.id,
      ],
    );
  });
  if (state === 'dead') throw new UnrecoverableError(`${reason}; no retries left`);
  if (state === 'pending') throw new RetryLater(delayMs, reason);
  return state;
}

const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker(WEBHOOK_QUEUE, deliver, {
  connection,
  prefix: QUEUE_PREFIX,
  concurrency: CONCURRENCY,
  // The service's settings (src/delivery-worker/delivery.processor.ts): its backoff and lock.
  settings: { backoffStrategy: (_attempts, _type, error) => (error instanceof RetryLater ? error.delayMs : 5000) },
  lockDuration: 30_000,
  lockRenewTime: 15_000,
  stalledInterval: 30_000,
  maxStalledCount: 5,
});
worker.on('error', (error) => console.error(`naive worker: ${error.message}`));
worker.on('failed', (job, error) => {
  if (!(error instanceof RetryLater)) console.error(`naive worker: job ${job?.id} failed: ${error.message}`);
});
await worker.waitUntilReady();
console.log(`naive worker ready (concurrency ${CONCURRENCY})`);

process.once('SIGTERM', async () => {
  await worker.close();
  await connection.quit();
  await pool.end();
  for (const agent of Object.values(agents)) agent.destroy();
  process.exit(0);
});
