// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands). A 1 GB old generation instead of V8's default (a share of the machine's memory, 4 GB here): V8 then
// collects sooner, and the peak RSS at saturation drops (API ~250 → ~210 MB, worker ~240 → ~175 MB) at the same
// throughput. Measured with `npm run bench` (quick runs, e2e): 512 MB saved a little more memory but cost 5–20 %
// of the throughput (V8 treats a heap that small as a low-memory device), 2 GB saved nothing, and a larger young
// generation (32 MB) cost memory.
const OLD_GENERATION = '--max-old-space-size=1024';
export const API_NODE_FLAGS = [OLD_GENERATION];
export const WORKER_NODE_FLAGS = [OLD_GENERATION];
