import { availableParallelism } from 'node:os';

// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands); the figures behind them are in bench/README.md's history.
// A 1 GB old generation instead of V8's default (a share of the machine's memory, 4 GB here): V8 collects sooner and
// the peak RSS at saturation drops (API ~250 → ~210 MB, worker ~240 → ~175 MB) without a loss of throughput; 512 MB
// saved 10 MB more but ran slower (V8 treats a heap that small as a low-memory device), 2 GB saved nothing.
// The worker keeps its young generation's semi-spaces at 8 MB, under V8's default here: at 4 MB its peak RSS was ~20 MB
// under the default's (~155 MB), but it scavenged twice as often; at saturation it spent ~14 % of its time
// collecting, and with 8 MB it delivered 918–994 deliveries/s against 798–901 (quick e2e runs taking turns) for a
// peak RSS of 175–183 MB against 173–177 (the limit is 200); at 200 changes/s, half the scavenges and ~40 % less
// time in them.
// And it starts its old generation at 96 MB: at 200 changes/s V8 otherwise collected it in full every 5–6 s (from
// ~41 MB live back up to ~60 MB), each a pause of up to ~20 ms in which no webhook goes out; with the room, 2–3 times
// per 30 s, for ~25 MB more peak RSS.
// On a machine of two cores or fewer, which the API shares with the worker, MariaDB and Redis, V8 collects the API's
// garbage on its main thread alone (`--single-threaded-gc`): its helper threads only wait there for a core the other
// processes hold, and the main thread waits for them (bench/README.md). The worker keeps them: with the flag, its
// peak RSS at saturation rose from 174 to 199 MB (the limit is 200).
const OLD_GENERATION = '--max-old-space-size=1024';
const GC_THREADS = availableParallelism() <= 2 ? ['--single-threaded-gc'] : [];
export const API_NODE_FLAGS = [OLD_GENERATION, ...GC_THREADS];
export const WORKER_NODE_FLAGS = [OLD_GENERATION, '--max-semi-space-size=8', '--initial-old-space-size=96'];
