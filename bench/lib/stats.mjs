// Percentiles (nearest rank) and rounding for the figures: to 0.01 ms, so a ratio of two sub-millisecond p50s (the fixed
// load's against the naive reference's) is not a ratio of roundings (0.85 and 0.74 ms were 0.9 ÷ 0.7 = 1.29× at
// 0.1 ms); the tables show them to 0.1 ms.
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, min: null, p50: null, p95: null, p99: null, max: null, mean: null };
  const at = (p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  const r = (value) => Math.round(value * 100) / 100;
  return { count: n, min: r(sorted[0]), p50: r(at(50)), p95: r(at(95)), p99: r(at(99)), max: r(sorted[n - 1]), mean: r(sum / n) };
}

export const rate = (count, seconds) => (seconds > 0 ? Math.round((count / seconds) * 10) / 10 : null);

/** Rate between the 5th and the 95th percentile of sorted arrival times (ms): start-up and tail left out. */
export function steadyRate(times) {
  const n = times.length;
  if (n < 2) return null;
  const lo = Math.floor(n * 0.05);
  const hi = Math.max(lo + 1, Math.ceil(n * 0.95) - 1);
  return rate(hi - lo, (times[Math.min(hi, n - 1)] - times[lo]) / 1000);
}
