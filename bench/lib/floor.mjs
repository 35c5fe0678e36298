// The floor: the same receiver, the same concurrency, a bare BullMQ queue and worker whose job is one HTTP GET.
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ROOT, cpuSeconds, memory, round2 } from './infra.mjs';
import { rate } from './stats.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Same default job options as the service's queue (WEBHOOK_JOB_OPTIONS in src/delivery-queue/queue.constants.ts), so Redis does the same upkeep. */
const JOB_OPTIONS = {
  attempts: 1000,
  backoff: { type: 'fixed', delay: 5000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export async function measureFloor({ redisUrl, prefix, receiver, jobs, concurrency, timeoutMs = 120_000 }) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('webhooks', { connection, prefix, defaultJobOptions: JOB_OPTIONS });
  const fillStarted = performance.now();
  for (let start = 0; start < jobs; start += 1000) {
    const chunk = [];
    for (let i = start; i < Math.min(jobs, start + 1000); i++) {
      const agentId = 100_000 + (i % 500);
      const status = i % 2 ? 'logged_out' : 'available';
      const query = new URLSearchParams([
        ['agent_status', status],
        ['agent_type', 'local'],
        ['event_source', 'api'],
        ['agent_id', String(agentId)],
        ['extension_name', `bench-${agentId}@bench.local`],
      ]).toString();
      chunk.push({ name: 'deliver', data: { query, sequence: Math.floor(i / 500) + 1 }, opts: { jobId: `floor_${i}` } });
    }
    await queue.addBulk(chunk);
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;

  const before = receiver.floor.length;
  const child = spawn(process.execPath, ['bench/floor-worker.mjs'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      FLOOR_PREFIX: prefix,
      FLOOR_QUEUE: 'webhooks',
      FLOOR_TARGET: receiver.url('/floor'),
      FLOOR_CONCURRENCY: String(concurrency),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const cpuBefore = cpuSeconds(child.pid) ?? 0;
  const until = performance.now() + timeoutMs;
  while (receiver.floor.length - before < jobs && performance.now() < until && child.exitCode === null) await sleep(20);
  await sleep(300); // late duplicates, if any
  const mem = memory(child.pid);
  const cpu = cpuSeconds(child.pid);
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
  await queue.close();
  await connection.quit();

  const arrivals = receiver.floor.slice(before);
  const times = arrivals.map((a) => a.t).sort((a, b) => a - b);
  const n = times.length;
  const ids = new Set(arrivals.map((a) => a.id));
  // Steady rate: between the 5th and the 95th percentile arrival (leaves out start-up and the tail).
  const lo = Math.floor(n * 0.05);
  const hi = Math.max(lo, Math.ceil(n * 0.95) - 1);
  const steadySeconds = n > 1 ? (times[hi] - times[lo]) / 1000 : 0;
  const wholeSeconds = n > 1 ? (times[n - 1] - times[0]) / 1000 : 0;
  return {
    jobs,
    concurrency,
    fillSeconds: round2(fillSeconds),
    received: n,
    unique: ids.size,
    duplicates: n - ids.size,
    deliveriesPerSecond: rate(hi - lo, steadySeconds),
    wholeRunPerSecond: rate(n - 1, wholeSeconds),
    wholeRunSeconds: round2(wholeSeconds),
    workerPeakRssMb: mem.peakMb,
    workerCpuSeconds: cpu != null ? round2(cpu - cpuBefore) : null,
    ok: n === jobs && ids.size === jobs,
    output: output.trim().split('\n').slice(-5).join('\n'),
  };
}
