// Where the time of a change goes, stage by stage, read from what the service (and the naive reference) keeps anyway:
// the job's hash in Redis (BullMQ's `timestamp`, set by the API just before its add, and `processedOn`, when a worker
// took the job), the first attempt's row in MySQL (`started_at`, when the worker began the request, after the load)
// and the receiver's arrival. Every clock is this machine's (Date.now() in each process, the bench's performance
// clock from its time origin); the job's and the attempt's times are whole milliseconds, so the means say more than
// the medians.
import { summarize } from './stats.mjs';

/** The stages, in order, each with what it covers. */
export const STAGES = {
  change: 'PUT sent → job created: the request, the status change in MySQL, the turn (service)',
  answer: 'job created → PUT answered: the add to Redis, the answer',
  queue: 'job created → taken by a worker: the add, the worker woken, its move to active',
  load: 'taken → request started: the job handed to the code, the delivery loaded, the host slot',
  request: 'request started → received',
  total: 'PUT answered → received (the change → receipt figure)',
};
const QUEUES = ['webhooks', 'webhooks-backlog'];
const CHUNK = 1000;

/**
 * The stages of the changes of `phaseName` whose webhook arrived and was sent by its first attempt: each stage's
 * summary (ms), and how many changes they rest on.
 */
export async function latencyStages({ driver, phaseName, redis, db, queuePrefix }) {
  driver.collect();
  const changes = [];
  for (const key of driver.phase(phaseName).keys) {
    const arrival = driver.receipts.get(key)?.[0];
    const expected = driver.expected.get(key);
    if (arrival?.id && expected) changes.push({ id: arrival.id, sent: expected.sent, accepted: expected.accepted, arrival: arrival.t });
  }
  const started = new Map();
  const jobs = new Map();
  for (let from = 0; from < changes.length; from += CHUNK) {
    const ids = changes.slice(from, from + CHUNK).map((change) => change.id);
    const [rows] = await db.query('SELECT delivery_id, started_at FROM delivery_attempts WHERE attempt_number = 1 AND delivery_id IN (?)', [
      ids,
    ]);
    for (const row of rows) started.set(row.delivery_id, row.started_at.getTime());
    const pipeline = redis.pipeline();
    for (const id of ids) for (const queue of QUEUES) pipeline.hmget(`${queuePrefix}:${queue}:${id}`, 'timestamp', 'processedOn');
    const replies = await pipeline.exec();
    ids.forEach((id, index) => {
      const found = QUEUES.map((_, lane) => replies[index * QUEUES.length + lane][1]).find(([created]) => created !== null);
      if (found && found[1] !== null) jobs.set(id, { created: Number(found[0]), taken: Number(found[1]) });
    });
  }
  const origin = performance.timeOrigin;
  const values = Object.fromEntries(Object.keys(STAGES).map((stage) => [stage, []]));
  for (const change of changes) {
    const job = jobs.get(change.id);
    const requestStarted = started.get(change.id);
    if (!job || requestStarted === undefined) continue;
    const sent = origin + change.sent;
    const accepted = origin + change.accepted;
    const arrival = origin + change.arrival;
    values.change.push(job.created - sent);
    values.answer.push(accepted - job.created);
    values.queue.push(job.taken - job.created);
    values.load.push(requestStarted - job.taken);
    values.request.push(arrival - requestStarted);
    values.total.push(arrival - accepted);
  }
  return {
    changes: values.total.length,
    ...Object.fromEntries(Object.entries(values).map(([stage, list]) => [stage, summarize(list)])),
  };
}

/** One line: each stage's mean and p50. */
export function stagesLine(stages) {
  if (!stages?.changes) return 'no stages';
  const part = (stage) => `${stage} ${stages[stage].mean} (p50 ${stages[stage].p50})`;
  return `${Object.keys(STAGES).map(part).join(' · ')} ms, mean (p50), of ${stages.changes} changes`;
}
