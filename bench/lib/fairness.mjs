// Phase `fairness` of `npm run bench`: fair shares between clients (src/delivery-queue/fair-shares.ts). The bench
// client gets a backlog of deliveries (its agents toggled in turn with the worker stopped, then a fresh worker drains
// it) while a neighbour client changes its one agent's status every 150 ms, its webhooks on a receiver of their own
// (another loopback address: another host to the worker's receiver isolation). Figures: the neighbour's change →
// receipt on the idle service and during the drains, and the drain rate with the neighbour against the same backlog
// drained alone.
import { config } from './config.mjs';
import { StatusDriver } from './drive.mjs';
import { round2, waitForPurge } from './infra.mjs';
import { Receiver } from './receiver.mjs';
import { setupTenant } from './setup.mjs';
import { steadyRate, summarize } from './stats.mjs';

const BENCH = 'bench';
const NEIGHBOUR = 'neighbour';
/** The neighbour's changes that warm up a fresh first lane's worker before each drain (a worker per lane). */
const FIRST_LANE_WARM_UP = 300;

/**
 * ctx: a database, queue prefix, API and worker of the phase's own (run.mjs prepareOwn): { api, db, stopWorker,
 * startWorker }; addReceiver(receiver) starts a receiver and has it stopped at the end; log(...).
 */
/** The neighbour client: one agent, its webhooks on a receiver of its own on another host. */
export async function setupNeighbour(ctx, addReceiver) {
  const receiver = await addReceiver(new Receiver({ host: config.neighbourHost }));
  const { agents } = await setupTenant(ctx.api, receiver, { clientId: NEIGHBOUR, agents: 1 });
  const neighbour = new StatusDriver({ api: ctx.api, clientId: NEIGHBOUR, agents, receiver, db: ctx.db });
  return { neighbour, neighbourAgent: neighbour.agents[0] };
}

export async function runFairness(ctx, { addReceiver, log }) {
  const receiver = await addReceiver(new Receiver());
  const { agents } = await setupTenant(ctx.api, receiver, { clientId: BENCH, agents: config.agents });
  const bench = new StatusDriver({ api: ctx.api, clientId: BENCH, agents, receiver, db: ctx.db });
  const { neighbour, neighbourAgent } = await setupNeighbour(ctx, addReceiver);
  const interval = config.neighbourIntervalMs;
  const out = {
    agents: config.agents,
    backlog: config.fairBacklog,
    rounds: config.fairRounds,
    intervalMs: interval,
    neighbourHost: config.neighbourHost,
    concurrency: Number(ctx.env.WORKER_CONCURRENCY),
    lanes: config.lanes,
    phases: {},
    drains: [],
  };

  // Warm-up of the fresh API and worker (JIT, pools, keep-alive sockets), both receivers: checked, not a figure.
  await bench.closedLoop('fair:warmup', config.saturationInflight, config.warmupSeconds);
  await neighbour.paced('fair:warmup-neighbour', neighbourAgent, { intervalMs: 20, count: 20, maxMs: 30_000 });
  await bench.settle('fair:warmup', config.drainSeconds * 1000);
  await neighbour.settle('fair:warmup-neighbour', 30_000);
  out.phases.warmup = bench.verify('fair:warmup');
  out.phases.warmupNeighbour = neighbour.verify('fair:warmup-neighbour');

  // The neighbour on the idle service.
  await neighbour.paced('fair:idle', neighbourAgent, { intervalMs: interval, count: config.fairIdleChanges, maxMs: 120_000 });
  await neighbour.settle('fair:idle', 30_000);
  out.phases.idle = neighbour.verify('fair:idle');
  out.idle = out.phases.idle.latency;
  log(`fairness: neighbour on the idle service, ${out.idle.count} changes: p50 ${out.idle.p50} ms, p99 ${out.idle.p99} ms`);

  // A first drain, alone and not counted: the first drain of the phase's fresh database was the slowest or the fastest
  // of its run, by up to 4× (2026-12-03); every counted drain follows one.
  const first = await drainRound(ctx, { bench, neighbour, neighbourAgent, name: 'fair:drain-0-uncounted', withNeighbour: false });
  out.uncountedDrain = first.figures;
  out.phases['drain-0-uncounted'] = first.check;
  log(
    `fairness: the uncounted first drain: ${first.check.received}/${first.check.expected} drained at ${first.figures.deliveriesPerSecond}/s`,
  );

  // Pairs of drains, alone and with the neighbour, in the order A B, B A, …
  const during = [];
  const whole = [];
  for (let round = 0; round < config.fairRounds; round++) {
    for (const withNeighbour of round % 2 === 0 ? [false, true] : [true, false]) {
      const name = `fair:drain-${round + 1}-${withNeighbour ? 'neighbour' : 'alone'}`;
      const drain = await drainRound(ctx, { bench, neighbour, neighbourAgent, name, withNeighbour });
      out.drains.push(drain.figures);
      out.phases[name.slice('fair:'.length)] = drain.check;
      if (withNeighbour) {
        out.phases[`${name.slice('fair:'.length)}:neighbour`] = drain.neighbourCheck;
        during.push(...drain.neighbourDuring);
        whole.push(...drain.neighbourWhole);
      }
      log(
        `fairness: ${name}: ${drain.check.received}/${drain.check.expected} drained at ${drain.figures.deliveriesPerSecond}/s` +
          ` (after ${drain.figures.purge.seconds} s of purge, history list ${drain.figures.purge.historyLength})` +
          (withNeighbour ? `; neighbour during the drain: ${JSON.stringify(drain.figures.neighbourLatency)}` : ''),
      );
    }
  }
  const rates = (withNeighbour) => out.drains.filter((d) => d.withNeighbour === withNeighbour).map((d) => d.deliveriesPerSecond);
  const sum = (values) => (values.length && values.every((value) => value > 0) ? values.reduce((a, b) => a + b, 0) : null);
  out.drainAlone = rates(false);
  out.drainWithNeighbour = rates(true);
  out.drainRatio = sum(out.drainAlone) && sum(out.drainWithNeighbour) ? round2(sum(out.drainWithNeighbour) / sum(out.drainAlone)) : null;
  out.neighbourDuringDrain = summarize(during);
  out.neighbourWholeDrain = summarize(whole);
  out.p50ToIdle = out.idle.p50 ? round2(out.neighbourDuringDrain.p50 / out.idle.p50) : null;
  out.unexpectedWebhooks = bench.unexpected() + neighbour.unexpected();
  out.putErrors = [...bench.putErrors, ...neighbour.putErrors].slice(0, 20);
  out.otherRequests = receiver.other.length + neighbour.receiver.other.length;
  log(
    `fairness: neighbour during the drains p50 ${out.neighbourDuringDrain.p50} ms (idle ${out.idle.p50}), p99 ${out.neighbourDuringDrain.p99} ms; drain with ÷ alone ${out.drainRatio}×`,
  );
  return out;
}

/** The worker's `agent_events_worker_concurrency` every 250 ms until `done()`, from its `/metrics`. */
async function sampleWorkerConcurrency(env, done) {
  const values = [];
  const auth = `Basic ${Buffer.from(`admin:${env.ADMIN_TOKEN}`).toString('base64')}`;
  while (!done()) {
    const page = await fetch(`http://127.0.0.1:${env.WORKER_HEALTH_PORT}/metrics`, { headers: { authorization: auth } })
      .then((response) => response.text())
      .catch(() => '');
    const line = page.split('\n').find((row) => row.startsWith('agent_events_worker_concurrency '));
    if (line) values.push(Number(line.split(' ')[1]));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return values;
}

/**
 * One backlog: the bench client's agents toggled in turn (64 PUTs in flight) with the worker stopped, then a fresh
 * worker drains it, the neighbour changing its status every `neighbourIntervalMs` meanwhile if `withNeighbour`.
 */
async function drainRound(ctx, { bench, neighbour, neighbourAgent, name, withNeighbour }) {
  await ctx.stopWorker();
  const fill = await bench.closedLoopCount(name, config.saturationInflight, config.fairBacklog);
  // Each drain starts from the same InnoDB state: what the fill and the drain before it left is purged first, so the
  // drains alone and with the neighbour compare the neighbour, not the purge one of them happened to run beside.
  const purge = await waitForPurge(ctx.db);
  // Before every drain alike: the fresh first lane's worker (a worker per lane) warmed up by the neighbour's changes.
  // One change at a time, each after the webhook of the one before: the neighbour never has two deliveries waiting,
  // so each goes to the first lane (the backlog lane's worker is not running yet).
  const warmFirstLane = async () => {
    const phase = `${name}:warm-first-lane`;
    const until = performance.now() + 60_000;
    for (let sent = 0; sent < FIRST_LANE_WARM_UP && performance.now() < until; sent++) {
      await neighbour.change(neighbourAgent, phase);
      while (neighbour.phase(phase).received < neighbour.phase(phase).keys.length && performance.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        neighbour.collect();
      }
    }
    const check = neighbour.verify(phase);
    if (!check.ok) throw new Error(`fairness: the first lane's warm-up before ${name} was not exact: ${JSON.stringify(check)}`);
  };
  await ctx.startWorker(name.replace(/^fair:/, 'fair-'), { warmFirstLane });
  const workerReady = performance.now();
  const neighbourPhase = `${name}:neighbour`;
  let drained = false;
  const ticking = withNeighbour
    ? neighbour.paced(neighbourPhase, neighbourAgent, {
        intervalMs: config.neighbourIntervalMs,
        stop: () => drained,
        maxMs: config.drainSeconds * 1000,
      })
    : undefined;
  const limits = sampleWorkerConcurrency(ctx.env, () => drained);
  await bench.settle(name, config.drainSeconds * 1000);
  drained = true;
  await ticking;
  const check = bench.verify(name);
  const times = bench.arrivalTimes(name);
  const last = times[times.length - 1] ?? workerReady;
  const figures = {
    name,
    withNeighbour,
    changes: fill.sent,
    fillAcceptedPerSecond: round2(fill.sent / ((fill.ended - fill.started) / 1000)),
    // Between the 5th and the 95th percentile arrival, as the worker-alone figure (start-up and tail left out).
    deliveriesPerSecond: steadyRate(times),
    drainSeconds: round2((last - workerReady) / 1000),
    // The worker's limit of jobs in flight (agent_events_worker_concurrency, adaptive-concurrency.ts) every 250 ms.
    workerConcurrency: summarize(await limits),
    // The wait for InnoDB's purge before the drain, and the history list it ended at.
    purge,
  };
  if (!withNeighbour) return { check, figures };
  await neighbour.settle(neighbourPhase, 30_000);
  const neighbourCheck = neighbour.verify(neighbourPhase);
  // During the drain: the neighbour's changes accepted in the window of the drain rate (the backlog's 5th to 95th
  // percentile arrival: the fresh worker's start-up, before the backlog moves, left out as there); and, shown beside
  // them, every change from the worker's start to the backlog's last webhook.
  const lo = Math.floor(times.length * 0.05);
  const hi = Math.min(times.length - 1, Math.max(lo + 1, Math.ceil(times.length * 0.95) - 1));
  const latency = (sample) => Math.max(0, sample.arrival - sample.accepted);
  const during = neighbour.samples(neighbourPhase).filter((sample) => sample.accepted <= last);
  const neighbourDuring = during.filter((sample) => sample.accepted >= times[lo] && sample.accepted <= times[hi]).map(latency);
  figures.neighbourChanges = neighbourCheck.expected;
  figures.neighbourLatency = summarize(neighbourDuring);
  figures.neighbourLatencyWhole = summarize(during.map(latency));
  // For the JSON: each change's time into the drain, its latency, and how much of the backlog was still to arrive
  // then (a latency that follows the backlog left is a queue in arrival order; a flat one, the time a job spends in
  // the saturated worker).
  let next = 0;
  figures.neighbourSamples = during.map((sample) => {
    while (next < times.length && times[next] <= sample.accepted) next++;
    return {
      atSeconds: round2((sample.accepted - workerReady) / 1000),
      latencyMs: round2(sample.arrival - sample.accepted),
      backlogLeft: times.length - next,
    };
  });
  return { check, figures, neighbourCheck, neighbourDuring, neighbourWhole: during.map(latency) };
}
