// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands). A 512 MB old generation: V8 then grows the heap in smaller steps and collects it sooner, which keeps the
// peak RSS at saturation far below the limit (API about 300 → 190 MB, worker 200 → 165 MB) at no cost in throughput
// (measured with `npm run bench`; a young generation of 1–4 MB, tried before, cost CPU and saved little).
const OLD_GENERATION = '--max-old-space-size=512';
export const API_NODE_FLAGS = [OLD_GENERATION];
export const WORKER_NODE_FLAGS = [OLD_GENERATION];
