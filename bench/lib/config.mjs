// Every knob of the benchmark, read once from the environment. BENCH_QUICK=1 is a smoke run (~1 minute).
const quick = process.env.BENCH_QUICK === '1';

function num(name, full, smoke) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return quick ? smoke : full;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

export const ALL_PHASES = ['e2e', 'api', 'naive', 'fairness', 'ordering', 'recovery', 'ceiling'];
/** The phases measured at every history level (or at the first); fairness, ordering and recovery have a database of their own. */
export const LEVEL_PHASES = ['e2e', 'api', 'naive', 'ceiling'];

export const config = {
  quick,
  databaseUrl: process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  machine: process.env.BENCH_MACHINE || 'this-machine',
  skipBuild: process.env.BENCH_SKIP_BUILD === '1',
  keep: process.env.BENCH_KEEP === '1', // keep the database and Redis keys (for a look afterwards)
  profile: process.env.BENCH_PROFILE === '1', // --cpu-prof on API and worker, profiles under bench/results/tmp/
  perf: process.env.BENCH_PERF === '1', // bench/fixed-load.mjs: each round's CPU by package, from Linux perf (bench/lib/perf.mjs)
  /**
   * Which groups of figures to run: e2e (warm-up, fixed load, saturation), api (list, POST, delivery log), naive (the
   * naive durable reference, bench/naive/) and ceiling (the SQL ceiling), both at the first level; fairness (a
   * neighbour's latency while another client's backlog drains), ordering (one agent's webhooks through a receiver
   * that refuses every 20th request) and recovery (one recover call of 10,000 dead deliveries beside a neighbour),
   * each with a database, queue prefix, API and worker of its own.
   */
  phases: new Set((process.env.BENCH_PHASES || ALL_PHASES.join(',')).split(',').map((p) => p.trim())),
  /** BENCH_SERVICE_X=v is passed to the API and worker as X=v (e.g. BENCH_SERVICE_AE_LOG_SQL=1). */
  serviceEnv: Object.fromEntries(
    Object.entries(process.env)
      .filter(([key]) => key.startsWith('BENCH_SERVICE_'))
      .map(([key, value]) => [key.slice('BENCH_SERVICE_'.length), value]),
  ),
  /**
   * The fairness, ordering and recovery phases' workers: `split` (a worker process per lane, WORKER_LANES=first and
   * WORKER_LANES=backlog: the deployment for tenants that must not feel each other's bursts, docs/scaling.md) or `one`
   * (one worker process serving both lanes, as `npm start` and the e2e levels run it).
   */
  lanes: process.env.BENCH_LANES === 'one' ? 'one' : 'split',
  /** A directory to write the API's and worker's whole output to (for AE_LOG_SQL and the like). */
  logDir: process.env.BENCH_LOG_DIR || '',
  /** The worker concurrency, the same for the service's worker and the floor. */
  concurrency: num('BENCH_CONCURRENCY', 64, 64),
  /** Agents driven by status changes; each has an agent-login and an agent-logout GET event. */
  agents: num('BENCH_AGENTS', 500, 200),
  /** Agents that only receive POSTed agent events in the API figures (never driven). */
  sinkAgents: num('BENCH_SINK_AGENTS', 50, 20),
  /** History levels: existing delivery rows and agent events before each level's figures. */
  levels: (process.env.BENCH_LEVELS || (quick ? '1000,10000' : '1000,100000')).split(',').map(Number),
  /** History in the bench client (a big tenant: its own counts grow) or in another client. */
  historyClient: process.env.BENCH_HISTORY_CLIENT === 'other' ? 'other' : 'same',
  floorJobs: num('BENCH_FLOOR_JOBS', 20000, 4000),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 3, 1.5),
  fixedRate: num('BENCH_FIXED_RATE', 200, 200),
  fixedSeconds: num('BENCH_FIXED_SECONDS', 30, 4),
  /** The fixed load runs in this many slices per level, the levels taking turns (see runFixed in bench/run.mjs). */
  fixedSlices: num('BENCH_FIXED_SLICES', 6, 2),
  /**
   * The fixed load the service is compared with the naive reference on: this long for each side, in this many slices
   * per side that take turns between the two (5 s slices: a slow spell of the machine falls on both sides alike).
   */
  naiveFixedSeconds: num('BENCH_NAIVE_FIXED_SECONDS', 60, 8),
  naiveFixedSlices: num('BENCH_NAIVE_FIXED_SLICES', 12, 2),
  saturationSeconds: num('BENCH_SECONDS', 15, 5),
  saturationInflight: num('BENCH_SAT_INFLIGHT', 64, 64),
  /** Seconds at the start of the saturation drive left out of the sustained rate (queues fill up). */
  steadySkipSeconds: num('BENCH_STEADY_SKIP_SECONDS', 2, 1),
  /** Worker-only figure: this many changes accepted with the worker stopped, then drained by a fresh worker. */
  backlog: num('BENCH_BACKLOG', 6000, 1500),
  /** The SQL ceiling (bench/lib/sql-ceiling.mjs): the service's statements alone, measured this long. */
  sqlCeilingSeconds: num('BENCH_SQL_CEILING_SECONDS', 15, 5),
  drainSeconds: num('BENCH_DRAIN_SECONDS', 90, 60),
  listRate: num('BENCH_LIST_RATE', 1000, 1000),
  listSeconds: num('BENCH_LIST_SECONDS', 10, 3),
  listMaxSeconds: num('BENCH_LIST_MAX_SECONDS', 8, 3),
  postSeconds: num('BENCH_POST_SECONDS', 6, 2),
  logSeconds: num('BENCH_LOG_SECONDS', 5, 2),
  /** Scale-out (bench/scale.mjs): API and worker processes of the second configuration (the first is 1 + 1). */
  apis: num('BENCH_APIS', 2, 2),
  workers: num('BENCH_WORKERS', 2, 2),
  /** The shift change: 100,000 agents logging in within 5 minutes, offered at this many changes/s (open loop). */
  shiftRate: num('BENCH_SHIFT_RATE', 333, 333),
  shiftSeconds: num('BENCH_SHIFT_SECONDS', 10, 4),
  /** Seconds between the two /metrics samples taken during the scale-out saturation. */
  scrapeGapSeconds: num('BENCH_SCRAPE_GAP_SECONDS', 5, 2),
  /** Fairness: the backlog of the bench client (its agents toggled in turn) drained with and without a neighbour. */
  fairBacklog: num('BENCH_FAIR_BACKLOG', 10000, 3000),
  /**
   * Pairs of drains (alone, with the neighbour), in the order A B, B A, …, so a drift of the machine falls on both.
   * Consecutive drains of the same kind differed by up to 30 % on this machine: with two pairs the ratio of one code
   * ranged 0.69–1.72 in four runs (2026-12-03); four pairs gave 0.95.
   */
  fairRounds: num('BENCH_FAIR_ROUNDS', 4, 1),
  /** The neighbour's status changes on the idle service, before any backlog. */
  fairIdleChanges: num('BENCH_FAIR_IDLE_CHANGES', 40, 24),
  /** The neighbour changes its one agent's status this often, during the idle figure and during the drains. */
  neighbourIntervalMs: num('BENCH_NEIGHBOUR_INTERVAL_MS', 150, 150),
  /** The neighbour's receiver listens here: another host name to the worker (isolation is per host name). */
  neighbourHost: process.env.BENCH_NEIGHBOUR_HOST || '127.0.0.2',
  /** Recovery: this many dead deliveries (each the newest of its agent to its URL) sent again by one recover call. */
  recoveryBacklog: num('BENCH_RECOVERY_BACKLOG', 10000, 3000),
  /** Ordering: one agent's status changes, one every `orderIntervalMs`, both its events on one receiver URL. */
  orderToggles: num('BENCH_ORDER_TOGGLES', 300, 120),
  orderIntervalMs: num('BENCH_ORDER_INTERVAL_MS', 50, 50),
  /** The receiver answers 503 to every n-th webhook request (once per webhook: its retry is accepted). */
  orderFailEvery: num('BENCH_ORDER_FAIL_EVERY', 20, 20),
  /** The ordering phase's API and worker run with this WEBHOOK_RETRY_SCHEDULE (the default's first retry is 5 s). */
  orderRetrySchedule: process.env.BENCH_ORDER_RETRY_SCHEDULE || '0,200ms,1s,5s,30s',
  /** Hard ceiling for the whole run; everything is stopped and cleaned up when it passes. */
  maxSeconds: num('BENCH_MAX_SECONDS', 1200, 300),
};

export const TARGETS = {
  e2eToFloor: 0.5,
  e2eToCeiling: 0.8,
  fixedP99Ms: 25,
  listP99Ms: 20,
  workerRssMb: 200,
  apiRssMb: 250,
  growth: 0.2,
  /** The service's end-to-end deliveries/s over the naive durable reference's (bench/naive/), at the same level. */
  e2eToNaive: 2,
  /** At the fixed load (200 changes/s), the service over the naive reference, at most: p50 and p99 change → receipt, PUT p99, CPU per delivery. */
  fixedToNaive: { p50: 1.2, p99: 1, putP99: 1, cpuPerDelivery: 1 },
  /** Fairness: the neighbour's p99 change → receipt while another client's backlog drains. */
  neighbourP99Ms: 250,
  /** Fairness: the neighbour's p50 during the drain over its p50 on the idle service, at most. */
  neighbourP50ToIdle: 2,
  /** Fairness: the backlog's drain rate with the neighbour over the same backlog's alone, at least. */
  drainWithNeighbour: 0.9,
  /** Ordering: accepted webhooks older than one accepted before them. */
  inversions: 0,
};
