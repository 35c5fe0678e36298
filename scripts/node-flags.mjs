// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmark, the README's production
// commands). A smaller young generation: at saturation the peak RSS drops by tens of MB at the same throughput
// (measured with `npm run bench`).
export const API_NODE_FLAGS = ['--max-semi-space-size=4'];
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=2'];
