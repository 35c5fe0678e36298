// `node bench/profile-top.mjs <file.cpuprofile> [top]`: where a process spent its CPU, by function (self time) and
// by module (dist/src, each node_modules package, node internals, GC). For profiles written by BENCH_PROFILE=1.
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [top]');
  process.exit(1);
}
const top = Number(topArg) || 25;
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

// Self time per node from the samples and their time deltas.
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function moduleOf(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native/builtin)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  if (url.includes('/dist/src/')) return `src/${url.split('/dist/src/')[1].split('/')[0]}`;
  if (url.includes('/dist/libs/')) return 'libs/webhook';
  return url.replace(/^file:\/\//, '');
}

const byFunction = new Map();
const byModule = new Map();
for (const [id, time] of self) {
  const { callFrame } = byId.get(id);
  const name = callFrame.functionName || '(anonymous)';
  const mod = moduleOf(callFrame.url, name);
  const key = `${name}  ${mod}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + time);
  byModule.set(mod, (byModule.get(mod) ?? 0) + time);
}

// Inclusive time of our own code (dist/src) and of chosen libraries: any sample with such a frame on its stack.
const inclusive = new Map();
for (const [id, time] of self) {
  const seen = new Set();
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const { callFrame } = byId.get(n);
    const mod = moduleOf(callFrame.url, callFrame.functionName);
    if (
      /^(src\/|libs\/|typeorm|mysql2|bullmq|ioredis|axios|@nestjs|fastify|find-my-way|class-validator|class-transformer)/.test(mod) &&
      !seen.has(mod)
    ) {
      seen.add(mod);
      inclusive.set(mod, (inclusive.get(mod) ?? 0) + time);
    }
  }
}

const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const share = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const busy = total - (byModule.get('(idle)') ?? 0);
console.log(`${file}\n  sampled ${ms(total)}, busy (not idle) ${ms(busy)} = ${share(busy)}\n`);
console.log('self time by module:');
for (const [mod, time] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(time)} ${share(time)}  ${mod}`);
console.log('\ninclusive time (on the stack) by module:');
for (const [mod, time] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(time)} ${share(time)}  ${mod}`);
console.log('\nself time by function:');
for (const [key, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(time)} ${share(time)}  ${key}`);
