import CircuitBreaker from 'opossum';

export interface HostIsolationOptions {
  /** Most requests in flight to one host at a time. */
  concurrency: number;
  /** The circuit opens when more than this percentage of the requests in the window failed... */
  errorPercent: number;
  /** ...and the window holds at least this many requests. */
  minRequests: number;
  windowMs: number;
  /** How long an open circuit stays open before one probe may try the host again. */
  openMs: number;
  /** The longest a probe can take (the request timeout): deliveries that meet a probe in flight wait about that long. */
  probeMs: number;
  /** Told every time a host's circuit changes state (for the breaker-state metric). */
  onStateChange?: (host: string, state: CircuitState) => void;
}

/** Either the request ran (and here is what it returned), or it did not start and should be tried again later. */
export type Admission<T> = { ran: true; value: T } | { ran: false; reason: string; delayMs: number };

export type CircuitState = 'closed' | 'open' | 'half-open';

/** A result the breaker counts as a failure of the host; it travels through opossum as an error and comes back out. */
class HostFailure extends Error {
  constructor(readonly value: unknown) {
    super('the host failed');
  }
}

interface Host {
  breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  inFlight: number;
  /** How long this host's requests take (moving average), and the time up to which its slots are spoken for. */
  latencyMs: number;
  completed: number;
  reservedUntil: number;
  /** Start times of the requests in flight, and the work waiting in this process for a slot of a fast host. */
  started: Set<number>;
  waiters: (() => void)[];
  openedAt: number;
  lastUsedAt: number;
}

/** Work held by an open circuit comes back spread over this long after it half-opens, not all at once. */
const OPEN_SPREAD_MS = 5000;
/** What a host's requests are assumed to take before the first one finished. */
const INITIAL_LATENCY_MS = 50;
/**
 * At a fast host, work waits in the process for a slot when one is due within this time: cheaper than a round
 * trip through the queue. At a slow host (or one whose requests are still running after this long) it never waits.
 */
const MAX_SLOT_WAIT_MS = 250;

/**
 * Keeps one receiver host from taking capacity from the others: at most `concurrency` requests in flight per
 * host, and a circuit breaker per host (opossum: rolling error percentage, then open, then one half-open probe).
 * A request that may not start is not queued here (beyond a short wait for a slot of a fast host): the caller gets a
 * delay and puts the work back in its queue.
 */
export class HostIsolation {
  private readonly hosts = new Map<string, Host>();
  private sweptAt = Date.now();

  constructor(
    private readonly options: HostIsolationOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Runs `action` for `host` if the host has a free slot and a closed circuit (or this is the half-open probe).
   * `failed` says which results count against the host. Work that meets a probe in flight waits about as long as
   * the probe can take, so it comes back once the probe decided.
   */
  async run<T>(host: string, action: () => Promise<T>, failed: (value: T) => boolean): Promise<Admission<T>> {
    const state = this.host(host);
    state.lastUsedAt = Date.now();
    if (state.breaker.opened) {
      const remaining = Math.max(0, state.openedAt + this.options.openMs - Date.now());
      return this.hold(`held: host ${host} circuit open`, remaining + this.random() * Math.min(OPEN_SPREAD_MS, this.options.openMs));
    }
    if (!(await this.slot(state))) {
      // Each held request books the slot time it will need (its share of the host's latency) after those booked
      // before it, so held work comes back about when a slot is free: soon at a fast host, later at a slow one.
      // A request still running counts as at least as slow as it has been so far (a hanging host, before any failed).
      const now = Date.now();
      const latencyMs = Math.max(state.latencyMs, now - Math.min(...state.started));
      const bookedUntil = Math.min(Math.max(state.reservedUntil, now) + latencyMs / this.options.concurrency, now + this.options.openMs);
      state.reservedUntil = bookedUntil;
      const delayMs = (bookedUntil - now) * (0.9 + 0.2 * this.random());
      return this.hold(`held: host ${host} at its limit of ${this.options.concurrency} concurrent requests`, delayMs);
    }
    if (state.breaker.opened) {
      this.release(state);
      return this.hold(`held: host ${host} circuit open`, this.options.openMs * (1 + 0.1 * this.random()));
    }
    const startedAt = Date.now();
    state.started.add(startedAt);
    try {
      const value = await state.breaker.fire(async () => {
        const result = await action();
        if (failed(result)) throw new HostFailure(result);
        return result;
      });
      return { ran: true, value: value as T };
    } catch (error) {
      if (error instanceof HostFailure) return { ran: true, value: error.value as T };
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        return this.hold(`held: host ${host} circuit half-open, a probe is deciding`, this.options.probeMs * (1 + 0.5 * this.random()));
      }
      throw error;
    } finally {
      state.started.delete(startedAt);
      state.latencyMs = 0.8 * state.latencyMs + 0.2 * (Date.now() - startedAt);
      state.completed++;
      this.release(state);
    }
  }

  /**
   * Takes a slot of the host now if one is free, or waits for one if the host is fast and a slot is due soon.
   * Returns false, holding no slot, when the work should go back to the queue instead.
   */
  private slot(state: Host): Promise<boolean> | boolean {
    if (state.inFlight < this.options.concurrency) {
      state.inFlight++;
      return true;
    }
    const oldest = Math.min(...state.started);
    const expectedMs = (state.waiters.length / this.options.concurrency + 1) * state.latencyMs;
    if (state.completed === 0 || Date.now() - oldest > MAX_SLOT_WAIT_MS || expectedMs > MAX_SLOT_WAIT_MS) return false;
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        state.waiters = state.waiters.filter((waiter) => waiter !== grant);
        resolve(false);
      }, MAX_SLOT_WAIT_MS);
      state.waiters.push(grant);
    });
  }

  /** A finished request hands its slot to the first waiter, if any. */
  private release(state: Host): void {
    const next = state.waiters.shift();
    if (next) next();
    else state.inFlight--;
  }

  /** Every host with an open or half-open circuit (closed ones are the rule and are left out). */
  circuits(): { host: string; state: CircuitState }[] {
    return [...this.hosts].map(([host, { breaker }]) => ({ host, state: stateOf(breaker) })).filter(({ state }) => state !== 'closed');
  }

  stateOf(host: string): CircuitState {
    const state = this.hosts.get(host);
    return state ? stateOf(state.breaker) : 'closed';
  }

  shutdown(): void {
    for (const { breaker } of this.hosts.values()) breaker.shutdown();
    this.hosts.clear();
  }

  private hold<T>(reason: string, delayMs: number): Admission<T> {
    return { ran: false, reason, delayMs: Math.max(1, Math.round(delayMs)) };
  }

  private host(name: string): Host {
    this.sweep();
    let state = this.hosts.get(name);
    if (!state) {
      state = {
        breaker: undefined as never,
        inFlight: 0,
        latencyMs: INITIAL_LATENCY_MS,
        completed: 0,
        reservedUntil: 0,
        started: new Set(),
        waiters: [],
        openedAt: 0,
        lastUsedAt: Date.now(),
      };
      state.breaker = this.breaker(state, name);
      this.hosts.set(name, state);
    }
    return state;
  }

  private breaker(host: Host, name: string): Host['breaker'] {
    const breaker = new CircuitBreaker<[() => Promise<unknown>], unknown>((work) => work(), {
      timeout: false, // the request has its own timeout
      errorThresholdPercentage: this.options.errorPercent,
      volumeThreshold: this.options.minRequests,
      rollingCountTimeout: this.options.windowMs,
      rollingCountBuckets: 10,
      resetTimeout: this.options.openMs,
      enableSnapshots: false,
    });
    breaker.on('open', () => {
      host.openedAt = Date.now();
      this.options.onStateChange?.(name, 'open');
    });
    breaker.on('halfOpen', () => this.options.onStateChange?.(name, 'half-open'));
    // opossum keeps the window's counts when a probe closes the circuit, so the host's first failure after it
    // recovered would open it again: a closed circuit starts from a fresh breaker (requests in flight finish on the old).
    breaker.on('close', () => {
      this.options.onStateChange?.(name, 'closed');
      queueMicrotask(() => {
        if (host.breaker !== breaker) return;
        host.breaker = this.breaker(host, name);
        breaker.shutdown();
      });
    });
    return breaker;
  }

  /** Forgets hosts idle for two windows with a closed circuit, so a long-running worker does not collect them. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.sweptAt < this.options.windowMs) return;
    this.sweptAt = now;
    for (const [name, state] of this.hosts) {
      if (state.inFlight === 0 && state.breaker.closed && now - state.lastUsedAt > 2 * this.options.windowMs) {
        state.breaker.shutdown();
        this.hosts.delete(name);
      }
    }
  }
}

function stateOf(breaker: CircuitBreaker<[() => Promise<unknown>], unknown>): CircuitState {
  return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
}
