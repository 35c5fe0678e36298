// The worker's periodic passes at scale: one reconcile pass over 100,000 due pending deliveries, and one retention
// pass over 1,000,000 deliveries (with an attempt each). Uses the compiled services (dist/) directly against a
// database and queue prefix of its own, and removes both at the end.
//
//   node bench/maintenance.mjs     BENCH_PENDING (100000) · BENCH_RETENTION_ROWS (1000000) · BENCH_PHASES=reconcile|retention
//                                  BENCH_RECONCILER (file under dist/src/delivery-worker/, to measure another version)
import 'dotenv/config';
import { Queue } from 'bullmq';
import { writeFileSync, mkdirSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { build, databaseUrlFor, deletePrefix, dropDatabase, redisClient, ROOT } from './lib/infra.mjs';

const baseUrl = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PENDING = Number(process.env.BENCH_PENDING || 100_000);
const RETENTION_ROWS = Number(process.env.BENCH_RETENTION_ROWS || 1_000_000);
const phases = (process.env.BENCH_PHASES || 'reconcile,retention').split(',');
const reconcilerFile = process.env.BENCH_RECONCILER || 'reconciler.service.js';
const stamp = Date.now().toString(36);
const databaseName = `ae_bench_maint_${stamp}`;
const prefix = `{ae-bench-maint-${stamp}}`;
const CHUNK = 50_000;

const ms = (since) => Math.round(performance.now() - since);
const log = (line) => console.log(`[maintenance] ${line}`);

if (process.env.BENCH_SKIP_BUILD !== '1') build();
const { loadConfig } = await import(`${ROOT}dist/src/config/configuration.js`);
const { dataSourceOptions } = await import(`${ROOT}dist/src/database/data-source-options.js`);
const { DeliveriesRepository } = await import(`${ROOT}dist/src/deliveries/deliveries.repository.js`);
const { DeliveryQueueService } = await import(`${ROOT}dist/src/delivery-queue/delivery-queue.service.js`);
const { MetricsService } = await import(`${ROOT}dist/src/metrics/metrics.service.js`);
const { StatusChangesRepository } = await import(`${ROOT}dist/src/status/status-changes.repository.js`);
const { ReconcilerService } = await import(`${ROOT}dist/src/delivery-worker/${reconcilerFile}`);
const { RetentionService } = await import(`${ROOT}dist/src/delivery-worker/retention.service.js`);
const { redisOptions } = await import(`${ROOT}dist/src/redis/redis-options.js`);
const { DataSource } = await import('typeorm');

const server = await mysql.createConnection({ uri: databaseUrlFor(baseUrl, '') });
await server.query(`CREATE DATABASE \`${databaseName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
await server.end();
const databaseUrl = databaseUrlFor(baseUrl, databaseName);
const config = loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix });
const dataSource = new DataSource(dataSourceOptions(databaseUrl, { poolSize: 4 }));
await dataSource.initialize();
await dataSource.runMigrations();
const sql = await mysql.createConnection({ uri: databaseUrl, multipleStatements: false });
const redis = redisClient(redisUrl);
const queue = new Queue('webhooks', { connection: { ...redisOptions(redisUrl), maxRetriesPerRequest: null }, prefix });
const results = { machine: process.env.BENCH_MACHINE || 'this-machine', date: new Date().toISOString(), reconcilerFile };

/** A status change of agent 1 (its name at that moment recorded, as the service records it), ids from `from` to `to`. */
async function insertStatusChanges(from, to, createdDaysAgo) {
  await sql.query(
    `INSERT INTO status_changes (id, client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
     SELECT seq, 'bench', 1, 'local', 'logged_out', 'available', 'api', seq, '000*094@ringme.ru', NOW(3) - INTERVAL ? DAY
       FROM seq_${from}_to_${to}`,
    [createdDaysAgo],
  );
}

/**
 * One client, agent and status change (or one status change per `statusChangeEvery` deliveries); `count` deliveries
 * numbered from `from`, inserted in chunks with INSERT … SELECT. A delivery row holds facts (its status change and
 * subscription), as the service writes it.
 */
async function insertDeliveries({ from, count, state, createdDaysAgo, nextAttemptAt, statusChangeEvery = 0, attempts = false }) {
  const started = performance.now();
  if (!statusChangeEvery) await insertStatusChanges(1, 1, createdDaysAgo);
  for (let offset = 0; offset < count; offset += CHUNK) {
    const size = Math.min(CHUNK, count - offset);
    const first = from + offset;
    if (statusChangeEvery) {
      await insertStatusChanges(Math.ceil(first / statusChangeEvery), Math.ceil((first + size - 1) / statusChangeEvery), createdDaysAgo);
    }
    await sql.query(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts,
                               created_at, next_attempt_at, delivered_at)
       SELECT CONCAT('msg_bench', LPAD(seq, 9, '0')), 'bench', 1, 1, ${statusChangeEvery ? `CEIL(seq / ${statusChangeEvery})` : 1},
              'https://crm.example.com/hooks/agent-events', 'GET',
              ?, ?, NOW(3) - INTERVAL ? DAY, ?, ?
         FROM seq_${first}_to_${first + size - 1}`,
      [state, state === 'pending' ? 0 : 1, createdDaysAgo, nextAttemptAt, state === 'succeeded' ? new Date() : null],
    );
    if (attempts) {
      await sql.query(
        `INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
         SELECT CONCAT('msg_bench', LPAD(seq, 9, '0')), 1, NOW(3) - INTERVAL ? DAY, 12, ${state === 'succeeded' ? 200 : 500}, NULL, 'ok'
           FROM seq_${first}_to_${first + size - 1}`,
        [createdDaysAgo],
      );
    }
  }
  return ms(started);
}

async function reconcileScenario() {
  await sql.query("INSERT INTO clients (id, name, agent_event_limit, signing_secret) VALUES ('bench', 'bench', 20, 'x')");
  const insertMs = await insertDeliveries({
    from: 1,
    count: PENDING,
    state: 'pending',
    createdDaysAgo: 0,
    nextAttemptAt: new Date(Date.now() - 60_000),
  });
  // Every pending delivery has its job (delayed: waiting for a retry or held), the every-5-seconds case of a backlog.
  const jobsStarted = performance.now();
  for (let i = 1; i <= PENDING; i += 5000) {
    const ids = Array.from({ length: Math.min(5000, PENDING - i + 1) }, (_, k) => `msg_bench${String(i + k).padStart(9, '0')}`);
    await queue.addBulk(ids.map((id) => ({ name: 'deliver', data: { deliveryId: id }, opts: { jobId: id, delay: 3600_000 } })));
  }
  log(`reconcile: ${PENDING} pending deliveries inserted in ${insertMs} ms, their jobs added in ${ms(jobsStarted)} ms`);
  const [plan] = await sql.query(
    `EXPLAIN SELECT id, next_attempt_at FROM deliveries
      WHERE state = 'pending' AND next_attempt_at <= NOW(3) AND (next_attempt_at > NOW(3) - INTERVAL 1 DAY OR (next_attempt_at = NOW(3) - INTERVAL 1 DAY AND id > 'msg'))
      ORDER BY next_attempt_at, id LIMIT 1000`,
  );
  log(`reconcile: EXPLAIN of a page: ${JSON.stringify(plan.map(({ key, type, rows, Extra }) => ({ key, type, rows, Extra })))}`);
  // As the worker module wires it: the producer's queue (always connected here) and the metrics it counts into.
  const reconciler = new ReconcilerService(
    new DeliveriesRepository(dataSource),
    queue,
    new DeliveryQueueService({ queue, ready: true }),
    config,
    new MetricsService(queue),
  );
  const passes = [];
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    const requeued = await reconciler.reconcile();
    passes.push({ ms: ms(started), requeued });
  }
  if (reconcilerFile === 'reconciler.service.js') {
    // A pass stops after 20 quiet pages; a full sweep goes through every due delivery.
    const sweeps = [];
    for (let run = 0; run < 2; run++) {
      const started = performance.now();
      await reconciler.reconcile(Infinity);
      sweeps.push(ms(started));
    }
    log(`reconcile: a full sweep over ${PENDING} due pending deliveries with live jobs: ${sweeps.map((s) => `${s} ms`).join(', ')}`);
    results.fullSweepMs = sweeps;
  }
  log(
    `reconcile (${reconcilerFile}): one pass over ${PENDING} due pending deliveries with live jobs: ${passes.map((p) => `${p.ms} ms`).join(', ')} (re-enqueued ${passes.map((p) => p.requeued).join(', ')})`,
  );
  // And after Redis lost everything: the pass finds and enqueues all of them.
  await deletePrefix(redis, prefix);
  const started = performance.now();
  const requeued = await reconciler.reconcile();
  const lostMs = ms(started);
  // (The version before paging had no quiet-page limit: its reconcile() is always a full sweep.)
  log(`reconcile (${reconcilerFile}): one pass after Redis lost its data: ${lostMs} ms, re-enqueued ${requeued}`);
  results.reconcile = { pending: PENDING, passesMs: passes.map((p) => p.ms), afterRedisLostMs: lostMs, requeuedAfterLoss: requeued, plan };
  await sql.query('DELETE FROM deliveries');
  await sql.query('DELETE FROM status_changes');
  await sql.query('DELETE FROM clients');
  await deletePrefix(redis, prefix);
}

async function retentionScenario() {
  // 80 % succeeded 40 days ago, 10 % dead 100 days ago (both due), 10 % succeeded yesterday (kept); one attempt
  // each, one status change per 4 deliveries.
  const old = Math.round(RETENTION_ROWS * 0.8);
  const dead = Math.round(RETENTION_ROWS * 0.1);
  const young = RETENTION_ROWS - old - dead;
  const started = performance.now();
  await insertDeliveries({
    from: 1,
    count: old,
    state: 'succeeded',
    createdDaysAgo: 40,
    nextAttemptAt: null,
    statusChangeEvery: 4,
    attempts: true,
  });
  await insertDeliveries({
    from: old + 1,
    count: dead,
    state: 'dead',
    createdDaysAgo: 100,
    nextAttemptAt: null,
    statusChangeEvery: 4,
    attempts: true,
  });
  await insertDeliveries({
    from: old + dead + 1,
    count: young,
    state: 'succeeded',
    createdDaysAgo: 1,
    nextAttemptAt: null,
    statusChangeEvery: 4,
    attempts: true,
  });
  log(`retention: ${RETENTION_ROWS} deliveries, as many attempts and ${RETENTION_ROWS / 4} status changes inserted in ${ms(started)} ms`);
  const retention = new RetentionService(dataSource, new DeliveriesRepository(dataSource), new StatusChangesRepository(dataSource), config);
  const passStarted = performance.now();
  const pass = await retention.prune();
  const passMs = ms(passStarted);
  const [[left]] = await sql.query(
    'SELECT (SELECT COUNT(*) FROM deliveries) AS deliveries, (SELECT COUNT(*) FROM delivery_attempts) AS attempts, (SELECT COUNT(*) FROM status_changes) AS status_changes',
  );
  const sorted = [...pass.batchMs].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  log(`retention: batch durations p50 ${at(50)} ms, p99 ${at(99)} ms, max ${sorted[sorted.length - 1]} ms`);
  log(
    `retention: one pass removed ${pass.deliveries} deliveries (with their attempts) and ${pass.statusChanges} status changes in ${passMs} ms ` +
      `(${Math.round(pass.deliveries / (passMs / 1000))} deliveries/s), ${pass.batches} batches, the longest ${pass.longestBatchMs} ms; left ${JSON.stringify(left)}`,
  );
  results.retention = { rows: RETENTION_ROWS, passMs, ...pass, batchP50Ms: at(50), batchP99Ms: at(99), left };
}

try {
  if (phases.includes('reconcile')) await reconcileScenario();
  if (phases.includes('retention')) await retentionScenario();
  mkdirSync(`${ROOT}bench/results/tmp`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/tmp/maintenance-${stamp}.json`, JSON.stringify(results, null, 2));
} finally {
  await queue.close();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await sql.end();
  await dataSource.destroy();
  await dropDatabase(baseUrl, databaseName);
}
