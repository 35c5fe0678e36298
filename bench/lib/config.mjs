// Every knob of the benchmark, read once from the environment. BENCH_QUICK=1 is a smoke run (~1 minute).
const quick = process.env.BENCH_QUICK === '1';

function num(name, full, smoke) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return quick ? smoke : full;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

export const ALL_PHASES = ['e2e', 'api', 'naive', 'ceiling'];

export const config = {
  quick,
  databaseUrl: process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  machine: process.env.BENCH_MACHINE || 'this-machine',
  skipBuild: process.env.BENCH_SKIP_BUILD === '1',
  keep: process.env.BENCH_KEEP === '1', // keep the database and Redis keys (for a look afterwards)
  profile: process.env.BENCH_PROFILE === '1', // --cpu-prof on API and worker, profiles under bench/results/tmp/
  /**
   * Which groups of figures to run: e2e (warm-up, fixed load, saturation), api (list, POST, delivery log), naive (the
   * naive durable reference, bench/naive/) and ceiling (the SQL ceiling), both at the first level.
   */
  phases: new Set((process.env.BENCH_PHASES || ALL_PHASES.join(',')).split(',').map((p) => p.trim())),
  /** BENCH_SERVICE_X=v is passed to the API and worker as X=v (e.g. BENCH_SERVICE_AE_LOG_SQL=1). */
  serviceEnv: Object.fromEntries(
    Object.entries(process.env)
      .filter(([key]) => key.startsWith('BENCH_SERVICE_'))
      .map(([key, value]) => [key.slice('BENCH_SERVICE_'.length), value]),
  ),
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
  /** Hard ceiling for the whole run; everything is stopped and cleaned up when it passes. */
  maxSeconds: num('BENCH_MAX_SECONDS', 900, 300),
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
  e2eToNaive: 1.5,
};
