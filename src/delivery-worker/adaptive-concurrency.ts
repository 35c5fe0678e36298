import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * How many jobs the worker process runs at once, between WORKER_MIN_CONCURRENCY and WORKER_CONCURRENCY, following its
 * own event loop. Every stage of a job (its load, its request, its record) is a callback on the process's one loop, so
 * when the loop is busy all the time, a job more in flight adds nothing to the rate: it only makes every job, a
 * neighbour client's first one included, wait longer for its turn on the loop. When the loop waits for MySQL, Redis
 * or receivers part of the time, more jobs in flight do raise the rate.
 *
 * Busy means running on a core (`loopBusy`): the event loop's utilization counts the time the process waited for a
 * core it shares with the API, MySQL and Redis as busy too, and on a machine whose cores are all in use it read 95 %
 * while the worker ran half the time. Fewer jobs in flight then only made the batches smaller: in quick runs of the
 * bench, 864–1,143 deliveries/s at saturation against 1,222–1,266 with the limit fixed (bench/README.md, History).
 *
 * So, every SAMPLE_MS, when the worker ran as many jobs as its limit allowed (there was more work): a loop busy BUSY
 * or more of the time gives up a quarter of the jobs in flight (never below the minimum); a loop busy less than SPARE
 * of the time takes a tenth more (never above the maximum). In between, the limit stays. A worker with less work than
 * its limit keeps the limit where it is: the limit is not what holds it back.
 */
export const SAMPLE_MS = 250;
export const BUSY = 0.95;
export const SPARE = 0.85;

export interface ConcurrencyBounds {
  min: number;
  max: number;
}

/** One interval: the share of the time the loop was busy, and whether the jobs in flight reached the limit. */
export interface LoopSample {
  utilization: number;
  full: boolean;
}

/**
 * The share of an interval the loop was busy running: its utilization (the time outside its wait for I/O), but no more
 * than the CPU time the process had over the interval. The rest of the utilization is time spent waiting for a core.
 */
export function loopBusy(utilization: number, cpuMs: number, intervalMs: number): number {
  return intervalMs > 0 ? Math.min(utilization, cpuMs / intervalMs) : utilization;
}

/** The limit for the next interval (pure: the rule above). */
export function nextConcurrency(limit: number, sample: LoopSample, { min, max }: ConcurrencyBounds): number {
  if (!sample.full) return limit;
  if (sample.utilization >= BUSY) return Math.max(min, limit - Math.max(1, Math.round(limit / 4)));
  if (sample.utilization < SPARE) return Math.min(max, limit + Math.max(1, Math.round(limit / 10)));
  return limit;
}

/**
 * The process's limit, sampled on a timer (unref'd: it never keeps the process up). `apply(limit)` sets it on the
 * BullMQ workers; `started`/`finished` count the jobs in flight.
 */
export class AdaptiveConcurrency {
  limit: number;
  private inFlight = 0;
  private peak = 0;
  private timer?: NodeJS.Timeout;
  private last?: EventLoopUtilization;
  private lastCpu = process.cpuUsage();

  constructor(
    private readonly bounds: ConcurrencyBounds,
    private readonly apply: (limit: number) => void,
  ) {
    this.limit = bounds.max;
  }

  start(): void {
    if (this.bounds.min >= this.bounds.max || this.timer) return;
    this.last = performance.eventLoopUtilization();
    this.lastCpu = process.cpuUsage();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  started(): void {
    this.inFlight++;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
  }

  finished(): void {
    this.inFlight--;
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    const interval = performance.eventLoopUtilization(now, this.last);
    const cpu = process.cpuUsage();
    const cpuMs = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    this.last = now;
    this.lastCpu = cpu;
    const utilization = loopBusy(interval.utilization, cpuMs, interval.idle + interval.active);
    const next = nextConcurrency(this.limit, { utilization, full: this.peak >= this.limit }, this.bounds);
    this.peak = this.inFlight;
    if (next !== this.limit) {
      this.limit = next;
      this.apply(next);
    }
  }
}
