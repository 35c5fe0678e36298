// Phase `ordering` of `npm run bench`: one agent's webhooks to one URL in the order of its changes
// (src/delivery-worker/ordering.ts). The agent has both events on one receiver URL; the receiver answers 503 once to
// every 20th webhook request (a blip: the refused delivery is retried on the phase's short WEBHOOK_RETRY_SCHEDULE and
// its retry accepted); the agent changes status `orderToggles` times, one every `orderIntervalMs`. Figures: inversions
// (an accepted webhook older than one accepted before it), whether the last accepted is the newest change, and the
// delay a blip adds to the deliveries that had to wait behind it.
import { config } from './config.mjs';
import { StatusDriver } from './drive.mjs';
import { Receiver } from './receiver.mjs';
import { setupTenant } from './setup.mjs';
import { summarize } from './stats.mjs';

const CLIENT = 'bench';
const PATHS = { login: '/hook/order', logout: '/hook/order' };

const agentOf = (arrival) => Number(new URLSearchParams(arrival.url.slice(arrival.url.indexOf('?') + 1)).get('agent_id'));

/** ctx: a database, queue prefix, API and worker of the phase's own (run.mjs prepareOwn), the worker with `retrySchedule`. */
export async function runOrdering(ctx, { addReceiver, log }) {
  // Refuses the n-th webhook request from when `refusing` is set, once per webhook (its retry is accepted).
  let refusing = false;
  let requests = 0;
  const refused = new Set();
  const reject = (entry) => {
    if (!refusing || config.orderFailEvery <= 0) return null;
    requests++;
    if (requests % config.orderFailEvery !== 0 || refused.has(entry.id)) return null;
    refused.add(entry.id);
    return 503;
  };
  const receiver = await addReceiver(new Receiver({ reject }));
  // Two agents: the second warms the fresh API and worker up on the same path (checked, not a figure).
  const { agents } = await setupTenant(ctx.api, receiver, { clientId: CLIENT, agents: 2, paths: PATHS });
  const driver = new StatusDriver({ api: ctx.api, clientId: CLIENT, agents, receiver, db: ctx.db, paths: PATHS });
  const [agent, warmAgent] = driver.agents;
  const out = {
    toggles: config.orderToggles,
    intervalMs: config.orderIntervalMs,
    failEvery: config.orderFailEvery,
    retrySchedule: ctx.env.WEBHOOK_RETRY_SCHEDULE,
    orderHoldMs: ctx.env.ORDER_HOLD_MS ?? 'default (60 s)',
    phases: {},
  };

  await driver.paced('order:warmup', warmAgent, { intervalMs: 10, count: 100, maxMs: 60_000 });
  await driver.settle('order:warmup', 30_000);
  out.phases.warmup = driver.verify('order:warmup');

  refusing = true;
  const name = 'order';
  const run = await driver.paced(name, agent, {
    intervalMs: config.orderIntervalMs,
    count: config.orderToggles,
    maxMs: config.orderToggles * config.orderIntervalMs + 60_000,
  });
  await driver.settle(name, config.drainSeconds * 1000);
  refusing = false;
  const check = driver.verify(name);
  out.phases.ordering = check;
  out.changes = run.sent;
  out.newestSequence = agent.seq;

  // What the receiver accepted (200) for the agent, in arrival order; and what it refused.
  const accepted = receiver.hooks.filter((arrival) => agentOf(arrival) === Number(agent.id));
  const rejected = receiver.rejected.filter((arrival) => agentOf(arrival) === Number(agent.id));
  let newest = 0;
  let inversions = 0;
  const inversionSamples = [];
  for (const arrival of accepted) {
    const seq = Number(arrival.seq);
    if (seq < newest) {
      inversions++;
      if (inversionSamples.length < 5) inversionSamples.push({ seq, after: newest });
    } else newest = seq;
  }
  out.accepted = accepted.length;
  out.refused = rejected.length;
  out.inversions = inversions;
  out.inversionSamples = inversionSamples;
  out.lastAcceptedSequence = accepted.length ? Number(accepted[accepted.length - 1].seq) : null;
  out.lastIsNewest = out.lastAcceptedSequence === agent.seq;

  // Held behind a blip: a change made while an older one of the agent was refused and not yet accepted, or while an
  // older one held behind a blip was not yet accepted (the queue a blip leaves behind it). Held otherwise: made while
  // an older one was still on its way, no blip before it (the previous webhook took longer than the gap between the
  // changes). Not held: neither. A blip's delay added to a change held behind it: its change → receipt minus the p50
  // of the changes not held.
  const samples = driver
    .samples(name)
    .filter((sample) => Number(sample.agentId) === Number(agent.id))
    .sort((a, b) => a.seq - b.seq);
  const blipped = new Set(rejected.map((arrival) => Number(arrival.seq)));
  const latency = (sample) => Math.max(0, sample.arrival - sample.accepted);
  const behindBlip = [];
  const heldOtherwise = [];
  const free = [];
  const own = [];
  let olderArrived = 0; // the latest arrival of an older change so far (in sequence order)
  let blipArrived = 0; // the same, of the refused changes and those held behind them
  for (const sample of samples) {
    if (blipped.has(sample.seq) || blipArrived > sample.accepted) {
      (blipped.has(sample.seq) ? own : behindBlip).push(latency(sample));
      blipArrived = Math.max(blipArrived, sample.arrival);
    } else if (olderArrived > sample.accepted) heldOtherwise.push(latency(sample));
    else free.push(latency(sample));
    olderArrived = Math.max(olderArrived, sample.arrival);
  }
  const freeLatency = summarize(free);
  out.latency = { notHeld: freeLatency, held: summarize(behindBlip), heldOtherwise: summarize(heldOtherwise), blipped: summarize(own) };
  out.addedDelay = summarize(behindBlip.map((value) => Math.max(0, value - (freeLatency.p50 ?? 0))));

  // MySQL's account: deliveries by state, attempts, refused attempts.
  const [states] = await ctx.db.query(
    `SELECT d.state, COUNT(*) AS deliveries, SUM(d.attempts) AS attempts FROM deliveries d WHERE d.client_id = ? AND d.agent_id = ? GROUP BY d.state`,
    [CLIENT, agent.id],
  );
  out.states = Object.fromEntries(states.map((row) => [row.state, { deliveries: Number(row.deliveries), attempts: Number(row.attempts) }]));
  const [[failed]] = await ctx.db.query(
    `SELECT COUNT(*) AS failed FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
      WHERE d.client_id = ? AND d.agent_id = ? AND (a.status_code IS NULL OR a.status_code >= 300)`,
    [CLIENT, agent.id],
  );
  out.failedAttempts = Number(failed.failed);
  out.superseded = check.superseded;
  out.unexpectedWebhooks = driver.unexpected();
  out.putErrors = driver.putErrors.slice(0, 20);
  out.otherRequests = receiver.other.length;
  out.ok = check.ok && inversions === 0 && out.lastIsNewest;
  log(
    `ordering: ${check.received}/${check.expected} accepted (${check.superseded} superseded), ${out.refused} refused; inversions ${inversions}; last accepted ${out.lastAcceptedSequence} of ${agent.seq}; held behind a blip: ${JSON.stringify(out.latency.held)}; held otherwise: ${JSON.stringify(out.latency.heldOtherwise)}; not held: ${JSON.stringify(freeLatency)}`,
  );
  return out;
}
