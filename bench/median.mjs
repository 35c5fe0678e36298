// `node bench/median.mjs <result.json> <result.json> <result.json>`: the service against the naive reference over
// several runs of `npm run bench` (their JSON under bench/results/), each ratio per run and its median with the
// verdict: the targets hold for the median of three runs, since two runs on this kind of machine differ by tens of
// per cent.
import { readFileSync } from 'node:fs';
import { TARGETS } from './lib/config.mjs';
import { fixedToNaive } from './lib/report.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/median.mjs <result.json> [<result.json> …]');
  process.exit(1);
}
const median = (values) => {
  const sorted = values.filter((value) => value != null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const runs = files.map((file) => {
  const results = JSON.parse(readFileSync(file, 'utf8'));
  if (!results.naive) throw new Error(`${file} has no naive reference (run the bench with its naive phase)`);
  const service = results.levels.find((level) => level.level === results.naive.level);
  return { file, saturation: results.naive.e2eToNaive.ratio, fixed: fixedToNaive(service, results.naive) };
});
const show = (value) => (value == null ? '–' : `${value.toFixed(2)}×`);
const rows = [
  [
    'end-to-end deliveries/s at saturation ÷ naive',
    `≥ ${TARGETS.e2eToNaive}×`,
    runs.map((run) => run.saturation),
    (m) => m >= TARGETS.e2eToNaive,
  ],
  ...runs[0].fixed.map((figure, index) => [
    `${figure.name} at the fixed load ÷ naive`,
    `≤ ${figure.target}×`,
    runs.map((run) => run.fixed[index].ratio),
    (m) => m <= figure.target,
  ]),
];
console.log(`| figure | ${runs.map((_, index) => `run ${index + 1}`).join(' | ')} | median | target | verdict |`);
console.log(`|---|${runs.map(() => '---|').join('')}---|---|---|`);
for (const [name, target, values, passes] of rows) {
  const m = median(values);
  console.log(`| ${name} | ${values.map(show).join(' | ')} | ${show(m)} | ${target} | ${m == null ? '–' : passes(m) ? 'PASS' : 'FAIL'} |`);
}
console.log(`\nruns: ${files.join(', ')}`);
