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
  openedAt: number;
  lastUsedAt: number;
}

const HOLD_BASE_MS = 250;

/**
 * Keeps one receiver host from taking capacity from the others: at most `concurrency` requests in flight per
 * host, and a circuit breaker per host (opossum: rolling error percentage, then open, then one half-open probe).
 * A request that may not start is not queued here: the caller gets a delay and puts the work back in its queue.
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
   * `failed` says which results count against the host. `holds` is how often this work was held before: the
   * wait grows with it, so work held at a busy host does not spin.
   */
  async run<T>(host: string, holds: number, action: () => Promise<T>, failed: (value: T) => boolean): Promise<Admission<T>> {
    const state = this.host(host);
    state.lastUsedAt = Date.now();
    if (state.breaker.opened) {
      // Everything held by an open circuit comes back spread over a second or two after it half-opens.
      const remaining = Math.max(0, state.openedAt + this.options.openMs - Date.now());
      return this.hold(`held: host ${host} circuit open`, remaining + this.random() * Math.min(2000, this.options.openMs));
    }
    if (state.inFlight >= this.options.concurrency) {
      return this.hold(`held: host ${host} at its limit of ${this.options.concurrency} concurrent requests`, this.backoff(holds, this.options.openMs));
    }
    state.inFlight++;
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
        return this.hold(`held: host ${host} circuit half-open, a probe is deciding`, this.backoff(holds, this.options.probeMs));
      }
      throw error;
    } finally {
      state.inFlight--;
    }
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

  /** 250 ms, 500 ms, 1 s, … up to `maxMs`, each ±50 %. */
  private backoff(holds: number, maxMs: number): number {
    return Math.min(maxMs, HOLD_BASE_MS * 2 ** Math.min(holds, 20)) * (0.5 + this.random());
  }

  private host(name: string): Host {
    this.sweep();
    let state = this.hosts.get(name);
    if (!state) {
      state = { breaker: undefined as never, inFlight: 0, openedAt: 0, lastUsedAt: Date.now() };
      state.breaker = this.breaker(state);
      this.hosts.set(name, state);
    }
    return state;
  }

  private breaker(host: Host): Host['breaker'] {
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
    });
    // opossum keeps the window's counts when a probe closes the circuit, so the host's first failure after it
    // recovered would open it again: a closed circuit starts from a fresh breaker (requests in flight finish on the old).
    breaker.on('close', () => {
      queueMicrotask(() => {
        if (host.breaker !== breaker) return;
        host.breaker = this.breaker(host);
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
