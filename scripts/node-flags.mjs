// Node flags the delivery worker runs with (scripts/start.mjs, the benchmark, the README's production command).
// A smaller young generation: at 64 concurrent deliveries the worker's peak RSS drops by about 50 MB at the
// same throughput (measured with `npm run bench`).
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=4'];
