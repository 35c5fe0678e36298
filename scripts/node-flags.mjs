// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands). A 1 GB old generation instead of V8's default (a share of the machine's memory, 4 GB here): V8 then
// collects sooner, and the peak RSS at saturation drops (API ~250 → ~210 MB, worker ~240 → ~175 MB) without a loss
// of throughput. Quick e2e runs of `npm run bench` (bench/results/this-machine-2026-11-26-steps.md): 1 GB 920–924
// deliveries/s; 512 MB saved 10 MB more but ran 757–876/s; 2 GB saved nothing; a 32 MB young generation cost memory.
const OLD_GENERATION = '--max-old-space-size=1024';
export const API_NODE_FLAGS = [OLD_GENERATION];
export const WORKER_NODE_FLAGS = [OLD_GENERATION];
