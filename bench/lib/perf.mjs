// Where a process's CPU goes, by the package whose code ran: Linux `perf` sampling CPU time only (`-e cpu-clock`),
// each sample counted at its nearest JavaScript frame. V8's own profiler samples wall time instead: a process waiting
// for a core inside a syscall counts as busy there. The processes run with `--perf-prof` (PERF_NODE_ARGS), so V8 writes
// each piece of code it makes, with its address and time, to `jit-<pid>.dump` in their working directory; `perf inject
// --jit` then names every sample by the code that was at its address at that moment. (`--perf-basic-prof`'s map has
// no times: once V8 frees code and reuses its address, samples there get the old code's name, and a round's socket
// writes showed up as BullMQ's main loop.) Used by `BENCH_PERF=1 node bench/fixed-load.mjs`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Node flags of a process to record; `--interpreted-frames-native-stack` gives interpreted frames their names too. */
export const PERF_NODE_ARGS = ['--perf-prof', '--interpreted-frames-native-stack'];

/** Samples per second per process. */
export const PERF_HZ = 999;

/** Is `perf` there and allowed to record (root, or a low enough perf_event_paranoid)? One sentence if not. */
export function perfMissing() {
  const probe = spawnSync('perf', ['record', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { encoding: 'utf8' });
  if (probe.error) return 'BENCH_PERF=1 needs Linux perf (Debian: apt-get install linux-perf).';
  if (probe.status !== 0) return `perf could not record here: ${(probe.stderr || '').trim().split('\n')[0]}`;
  return undefined;
}

/** The working directory of processes to record (their jit dumps go there), made empty. */
export function perfDirectory(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts recording `pids` (with call chains, on the clock V8's dumps use) into `file` in `dir`, the processes' working
 * directory; `stop()` ends it and resolves once the samples are named by the jit dumps (`<file>.jit`).
 */
export function recordPerf(pids, dir, file) {
  const data = join(dir, file);
  const child = spawn('perf', ['record', '-k', '1', '-e', 'cpu-clock', '-F', String(PERF_HZ), '-g', '-p', pids.join(','), '-o', data], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      if (!stderr.includes('Captured and wrote')) throw new Error(`perf record failed: ${stderr.trim()}`);
      const inject = spawnSync('perf', ['inject', '--jit', '-i', data, '-o', `${data}.jit`], { cwd: dir, encoding: 'utf8' });
      if (inject.status !== 0) throw new Error(`perf inject failed: ${inject.stderr}`);
      return `${data}.jit`;
    },
  };
}

/** What a JavaScript frame's code belongs to: a package, the service's folder, the naive reference, or Node's own. */
export function packageOf(frame) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame);
  if (pkg) return pkg[1];
  const ours = /\/dist\/(?:src|libs)\/([^/ :]+)/.exec(frame);
  if (ours) return `service: ${ours[1].replace(/\.js$/, '')}`;
  if (frame.includes('/bench/naive/')) return 'naive reference';
  const node = / node:(?:internal\/)?([a-z_]+)/.exec(frame);
  if (node) return `node: ${node[1]}`;
  return undefined;
}

/** Deletes what `recordPerf` left in `dir` but the jit dumps (the processes still write to them). */
export function clearPerfFiles(dir) {
  for (const name of readdirSync(dir)) if (!name.startsWith('jit-')) rmSync(join(dir, name), { force: true });
}

/**
 * Reads `perf script`'s output of `file`: per pid, the samples, and the samples by package (a sample with no
 * JavaScript frame on its stack is `native`: the kernel, libuv, V8's runtime and its collector).
 */
export function samplesByPackage(file) {
  const script = spawnSync('perf', ['script', '-i', file, '-F', 'pid,ip,sym'], { encoding: 'utf8', maxBuffer: 2 ** 31 });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  const byPid = new Map();
  let pid;
  let owner;
  const count = () => {
    if (pid === undefined) return;
    const of = byPid.get(pid) ?? { samples: 0, packages: new Map() };
    byPid.set(pid, of);
    of.samples += 1;
    const name = owner ?? 'native';
    of.packages.set(name, (of.packages.get(name) ?? 0) + 1);
  };
  for (const line of script.stdout.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith('\t')) {
      count();
      pid = Number(line.trim().split(/\s+/)[0]);
      owner = undefined;
    } else if (owner === undefined && line.includes('JS:')) {
      owner = packageOf(line);
    }
  }
  count();
  return byPid;
}
