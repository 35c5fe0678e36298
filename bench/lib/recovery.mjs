// Phase `recovery` of `npm run bench`: bulk recovery after an outage (src/delivery-recovery/). The bench client has
// `recoveryBacklog` dead deliveries, each the newest of its agent to its URL (inserted in MySQL: one agent, login
// event, status change and dead delivery each, as a receiver down for hours leaves them); one
// `POST /client/bench/delivery/recover` sends them all again to a receiver that answers at once, while a neighbour
// client changes its one agent's status every `neighbourIntervalMs` with its webhooks on a receiver of its own.
// Figures: the recover call's answer time, the recovery's rate, and the neighbour's change → receipt on the idle
// service and during the recovery.
import { config } from './config.mjs';
import { setupNeighbour } from './fairness.mjs';
import { round2 } from './infra.mjs';
import { Receiver } from './receiver.mjs';
import { steadyRate, summarize } from './stats.mjs';

const BENCH = 'bench';

/** ctx: a database, queue prefix, API and worker of the phase's own (run.mjs prepareOwn); addReceiver; log. */
export async function runRecovery(ctx, { addReceiver, log }) {
  const receiver = await addReceiver(new Receiver());
  const { neighbour, neighbourAgent } = await setupNeighbour(ctx, addReceiver);
  const backlog = config.recoveryBacklog;
  const out = { backlog, intervalMs: config.neighbourIntervalMs, concurrency: Number(ctx.env.WORKER_CONCURRENCY), phases: {} };

  await ctx.api.expect(201, 'POST', '/client/', { id: BENCH, name: 'Benchmark tenant' });
  const since = await insertDeadBacklog(ctx.db, receiver, backlog);

  // Warm-up of the fresh API and worker and the neighbour's receiver: checked, not a figure.
  await neighbour.paced('recovery:warmup', neighbourAgent, { intervalMs: 20, count: 20, maxMs: 30_000 });
  await neighbour.settle('recovery:warmup', 30_000);
  out.phases.warmup = neighbour.verify('recovery:warmup');

  await neighbour.paced('recovery:idle', neighbourAgent, { intervalMs: out.intervalMs, count: config.fairIdleChanges, maxMs: 120_000 });
  await neighbour.settle('recovery:idle', 30_000);
  out.phases.idle = neighbour.verify('recovery:idle');
  out.idle = out.phases.idle.latency;
  log(`recovery: neighbour on the idle service, ${out.idle.count} changes: p50 ${out.idle.p50} ms, p99 ${out.idle.p99} ms`);

  const started = performance.now();
  const recovery = await ctx.api.expect(202, 'POST', `/client/${BENCH}/delivery/recover`, { since });
  out.answerMs = round2(performance.now() - started);
  out.matched = recovery.matched;
  out.queued = recovery.queued;
  const ticking = neighbour.paced('recovery:during', neighbourAgent, {
    intervalMs: out.intervalMs,
    stop: () => receiver.hooks.length >= backlog,
    maxMs: config.drainSeconds * 1000,
  });
  const deadline = started + config.drainSeconds * 1000;
  while (receiver.hooks.length < backlog && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await ticking;
  await neighbour.settle('recovery:during', 30_000);
  out.phases.during = neighbour.verify('recovery:during');

  const times = receiver.hooks.map((hook) => hook.t).sort((a, b) => a - b);
  const ids = new Set(receiver.hooks.map((hook) => hook.id));
  out.received = receiver.hooks.length;
  out.duplicates = receiver.hooks.length - ids.size;
  out.deliveriesPerSecond = steadyRate(times);
  out.wholeSeconds = round2(((times[times.length - 1] ?? started) - started) / 1000);
  // The neighbour's changes accepted between the recovery's 5th and 95th percentile arrival (its steady pace).
  const lo = times[Math.floor(times.length * 0.05)];
  const hi = times[Math.max(0, Math.ceil(times.length * 0.95) - 1)];
  const during = neighbour.samples('recovery:during').filter((sample) => sample.accepted >= lo && sample.accepted <= hi);
  out.neighbourDuring = summarize(during.map((sample) => Math.max(0, sample.arrival - sample.accepted)));
  out.p50ToIdle = out.idle.p50 ? round2(out.neighbourDuring.p50 / out.idle.p50) : null;
  // For the JSON: each of the neighbour's changes, its time after the recover call, its latency, and the recovery's
  // webhooks still to arrive then.
  let next = 0;
  out.neighbourSamples = neighbour.samples('recovery:during').map((sample) => {
    while (next < times.length && times[next] <= sample.accepted) next++;
    return {
      atSeconds: round2((sample.accepted - started) / 1000),
      latencyMs: round2(sample.arrival - sample.accepted),
      backlogLeft: times.length - next,
    };
  });
  out.progress = await ctx.api.expect(200, 'GET', `/client/${BENCH}/delivery/recover/${recovery.id}`);
  out.unexpectedWebhooks = neighbour.unexpected();
  out.putErrors = neighbour.putErrors.slice(0, 20);
  out.otherRequests = receiver.other.length + neighbour.receiver.other.length;
  log(
    `recovery: ${out.received}/${backlog} re-sent at ${out.deliveriesPerSecond}/s (answered in ${out.answerMs} ms, all through in ${out.wholeSeconds} s); ` +
      `neighbour during it p50 ${out.neighbourDuring.p50} ms, p99 ${out.neighbourDuring.p99} ms (idle ${out.idle.p50} / ${out.idle.p99})`,
  );
  return out;
}

/** The dead backlog, in a few statements; returns a `since` just before it. */
async function insertDeadBacklog(db, receiver, backlog) {
  const agents = Array.from({ length: backlog }, (_, index) => [BENCH, 'local', `r${index}@bench.ringme.ru`, 'available', 1]);
  await db.query('INSERT INTO agents (client_id, agent_type, extension_name, agent_status, status_sequence) VALUES ?', [agents]);
  await db.query(
    `INSERT INTO agent_events (client_id, agent_id, event_type, method, url)
     SELECT client_id, id, 'agent-login', 'GET', CONCAT(?, id) FROM agents WHERE client_id = ?`,
    [receiver.url('/hook/recovery/'), BENCH],
  );
  const changedAt = new Date(Date.now() - 3_600_000);
  await db.query(
    `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
     SELECT client_id, id, 'local', 'logged_out', 'available', 'api', 1, extension_name, ? FROM agents WHERE client_id = ?`,
    [changedAt, BENCH],
  );
  await db.query(
    `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts, created_at)
     SELECT CONCAT('msg_recovery', LPAD(s.id, 12, '0')), s.client_id, s.agent_id, e.id, s.id, e.url, e.method, 'dead', 9, s.changed_at
       FROM status_changes s JOIN agent_events e ON e.agent_id = s.agent_id WHERE s.client_id = ?`,
    [BENCH],
  );
  return new Date(changedAt.getTime() - 1000).toISOString();
}
