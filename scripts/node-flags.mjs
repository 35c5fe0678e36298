// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands); the figures behind them are in bench/README.md's history.
// A 1 GB old generation instead of V8's default (a share of the machine's memory, 4 GB here): V8 collects sooner and
// the peak RSS at saturation drops (API ~250 → ~210 MB, worker ~240 → ~175 MB) without a loss of throughput; 512 MB
// saved 10 MB more but ran slower (V8 treats a heap that small as a low-memory device), 2 GB saved nothing.
// The worker also keeps a 4 MB young generation: another ~20 MB less (~155 MB) at the same rate.
// And it starts its old generation at 96 MB: at 200 changes/s V8 otherwise collected it in full every 5–6 s (from
// ~41 MB live back up to ~60 MB), each a pause of up to ~20 ms in which no webhook goes out; with the room, 2–3 times
// per 30 s, for ~25 MB more peak RSS.
const OLD_GENERATION = '--max-old-space-size=1024';
export const API_NODE_FLAGS = [OLD_GENERATION];
export const WORKER_NODE_FLAGS = [OLD_GENERATION, '--max-semi-space-size=4', '--initial-old-space-size=96'];
