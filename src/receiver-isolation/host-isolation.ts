import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connections.js';
import { redisScript } from '../redis/redis-script.js';
import { circuitState, hold, type CircuitState, type Verdict } from './host-policy.js';

export type { CircuitState } from './host-policy.js';

export interface HostIsolationOptions {
  /** Most requests in flight to one host at a time, across every worker. */
  concurrency: number;
  /** The circuit opens when more than this percentage of the requests in the window failed... */
  errorPercent: number;
  /** ...and the window holds at least this many requests. */
  minRequests: number;
  windowMs: number;
  /** How long an open circuit stays open before one probe may try the host again. */
  openMs: number;
  /** The longest a request can take (the request timeout): a probe's hold, and a slot's lease beyond it. */
  probeMs: number;
  /** Told when a host's circuit, as this process sees it, changes state (for the breaker-state metric). */
  onStateChange?: (host: string, state: CircuitState) => void;
  /** Told when Redis does not answer; the next try at Redis is `retryMs` later. */
  onRedisAway?: (error: Error, retryMs: number) => void;
}

/** A request may not start now: when to try again, and why (for the delivery log). */
export interface Refusal {
  admitted: false;
  reason: string;
  delayMs: number;
}

/** A slot of the host, held from `admit` until the request is `done` (its outcome counted) or `cancel`led unused. */
export interface Slot {
  admitted: true;
  done(failed: boolean, durationMs: number): void;
  cancel(): void;
}

/** What a host's requests are assumed to take before the first one finished. */
const INITIAL_LATENCY_MS = 50;
/** A slot (and a probe) of a worker that died mid-request is free again this long after the request's timeout. */
const LEASE_MARGIN_MS = 5000;
/** While Redis does not answer, each process limits its own requests per host, and tries Redis again after this. */
const REDIS_RETRY_MS = 5000;
/** What a request held by a host at its per-process limit waits while Redis is away. */
const UNSHARED_HOLD_MS = 1000;

/**
 * One round trip before a request: the circuit (open, or half-open with its one probe), then a lease on one of the
 * host's slots (a sorted set of lease ids by expiry; expired leases are dropped first). A request at the limit books
 * its share of the host's latency after those booked before it, counting the oldest request still running as at
 * least as slow as it has been. KEYS: slots, circuit. ARGV: now, lease id, lease ms, concurrency, open ms, idle ms,
 * initial latency. Returns {kind, time}.
 */
const ACQUIRE = `
local now = tonumber(ARGV[1])
local leaseMs = tonumber(ARGV[3])
local concurrency = tonumber(ARGV[4])
local circuit = redis.call('HMGET', KEYS[2], 'open_until', 'probe_until', 'latency', 'booked_until')
local openUntil = tonumber(circuit[1] or '0')
local probe = false
if openUntil > 0 then
  if now < openUntil then return {'open', openUntil} end
  if now < tonumber(circuit[2] or '0') then return {'probing', 0} end
  probe = true
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= concurrency then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local latency = math.max(tonumber(circuit[3] or ARGV[7]), now - (tonumber(oldest[2]) - leaseMs))
  local booked = math.floor(math.min(math.max(tonumber(circuit[4] or '0'), now) + latency / concurrency, now + tonumber(ARGV[5])))
  redis.call('HSET', KEYS[2], 'booked_until', booked)
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  return {'full', booked}
end
redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[2])
redis.call('PEXPIRE', KEYS[1], leaseMs)
if probe then
  redis.call('HSET', KEYS[2], 'probe_until', now + leaseMs)
  return {'probe', 0}
end
return {'run', 0}`;

/**
 * One round trip after a request: gives the lease back, learns the host's latency (moving average), and counts the
 * outcome in a rolling window of 10 buckets (fields n<i>, f<i>, b<i>: requests, failures, and which bucket slot i
 * holds). A probe closes the circuit (a fresh window) or opens it again; more than `errorPercent` failures of at least
 * `minRequests` open it. Requests that end while it is open are not counted. KEYS: slots, circuit, window. ARGV: now,
 * lease id, failed (1/0), probe (1/0), duration ms, error percent, min requests, window ms, open ms, idle ms, initial
 * latency. Returns the circuit's state.
 */
const RELEASE = `
local now = tonumber(ARGV[1])
local failed = ARGV[3] == '1'
redis.call('ZREM', KEYS[1], ARGV[2])
local latency = tonumber(redis.call('HGET', KEYS[2], 'latency') or ARGV[11])
redis.call('HSET', KEYS[2], 'latency', 0.8 * latency + 0.2 * tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[10])
local function open()
  redis.call('HSET', KEYS[2], 'open_until', now + tonumber(ARGV[9]))
  redis.call('HDEL', KEYS[2], 'probe_until')
  redis.call('DEL', KEYS[3])
  return 'open'
end
if ARGV[4] == '1' then
  if failed then return open() end
  redis.call('HDEL', KEYS[2], 'open_until', 'probe_until')
  return 'closed'
end
if redis.call('HEXISTS', KEYS[2], 'open_until') == 1 then return 'open' end
local bucket = math.floor(now * 10 / tonumber(ARGV[8]))
local slot = bucket % 10
if tonumber(redis.call('HGET', KEYS[3], 'b' .. slot) or '-1') ~= bucket then
  redis.call('HSET', KEYS[3], 'b' .. slot, bucket, 'n' .. slot, 0, 'f' .. slot, 0)
end
redis.call('HINCRBY', KEYS[3], 'n' .. slot, 1)
redis.call('PEXPIRE', KEYS[3], ARGV[8])
if not failed then return 'closed' end
redis.call('HINCRBY', KEYS[3], 'f' .. slot, 1)
local total, failures = 0, 0
for i = 0, 9 do
  local counts = redis.call('HMGET', KEYS[3], 'b' .. i, 'n' .. i, 'f' .. i)
  if counts[1] and tonumber(counts[1]) > bucket - 10 then
    total = total + tonumber(counts[2])
    failures = failures + tonumber(counts[3])
  end
end
if total >= tonumber(ARGV[7]) and failures * 100 > tonumber(ARGV[6]) * total then return open() end
return 'closed'`;

/** A slot given back unused: no outcome to count; a probe's turn is free again. KEYS: slots, circuit. ARGV: lease id, probe (1/0). */
const CANCEL = `
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('HDEL', KEYS[2], 'probe_until') end
return 0`;

/** The three scripts above, one round trip each (redis-script.ts), on the connection the isolation is given. */
const ACQUIRE_SLOT = redisScript<[Verdict['kind'], number]>('acquireHostSlot', 2, ACQUIRE);
const RELEASE_SLOT = redisScript<CircuitState>('releaseHostSlot', 3, RELEASE);
const CANCEL_SLOT = redisScript<number>('cancelHostSlot', 2, CANCEL);

/**
 * Keeps one receiver host from taking capacity from the others, across every worker of the deployment: at most
 * `concurrency` requests in flight per host, and one circuit breaker per host (rolling error percentage, then open,
 * then one half-open probe), both kept in Redis under `keyPrefix`. A request that may not start is not queued here:
 * the caller gets a delay and puts the work back in its queue. While Redis does not answer, each process limits its
 * own requests per host instead, without a breaker, and tries Redis again every few seconds.
 */
export class HostIsolation {
  /** Hosts whose circuit this process last saw open or half-open. */
  private readonly shown = new Map<string, CircuitState>();
  /** Requests in flight per host while Redis is away. */
  private readonly unshared = new Map<string, number>();
  private redisAwayUntil = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly options: HostIsolationOptions,
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * One round trip: a slot of `host` if it has a free one and a closed circuit (or this is the half-open probe), or
   * when to try again. The caller ends the slot with `done` once its request is through, or `cancel` if it sends none.
   */
  async admit(host: string): Promise<Slot | Refusal> {
    if (this.clock() < this.redisAwayUntil) return this.admitUnshared(host);
    const { concurrency, openMs, probeMs, windowMs } = this.options;
    const leaseMs = probeMs + LEASE_MARGIN_MS;
    const idleMs = 2 * windowMs + openMs;
    const keys = [`${this.keyPrefix}:host:${host}:slots`, `${this.keyPrefix}:host:${host}:circuit`];
    const lease = randomUUID();
    let verdict: Verdict;
    try {
      const [kind, time] = await ACQUIRE_SLOT(
        this.redis,
        ...keys,
        this.clock(),
        lease,
        leaseMs,
        concurrency,
        openMs,
        idleMs,
        INITIAL_LATENCY_MS,
      );
      verdict = kind === 'open' ? { kind, openUntil: time } : kind === 'full' ? { kind, bookedUntil: time } : { kind };
    } catch (error) {
      this.redisAway(error as Error);
      return this.admitUnshared(host);
    }
    this.show(host, circuitState(verdict));
    if (verdict.kind !== 'run' && verdict.kind !== 'probe') {
      return { admitted: false, ...hold(host, verdict, this.clock(), this.options, this.random()) };
    }
    const probe = verdict.kind === 'probe';
    // Not awaited: the outcome does not wait for Redis. This connection sends it before any later acquire.
    const release = (script: Promise<CircuitState | number>) =>
      script.then(
        (state) => typeof state === 'string' && this.show(host, state),
        (error: Error) => this.redisAway(error), // the lease expires by itself
      );
    return {
      admitted: true,
      done: (failed, durationMs) => {
        const { errorPercent, minRequests } = this.options;
        void release(
          RELEASE_SLOT(
            this.redis,
            ...keys,
            `${this.keyPrefix}:host:${host}:window`,
            this.clock(),
            lease,
            failed ? 1 : 0,
            probe ? 1 : 0,
            durationMs,
            errorPercent,
            minRequests,
            windowMs,
            openMs,
            idleMs,
            INITIAL_LATENCY_MS,
          ),
        );
      },
      // No request went out: the slot is free again, and a probe's turn goes to the next request.
      cancel: () => void release(CANCEL_SLOT(this.redis, ...keys, lease, probe ? 1 : 0)),
    };
  }

  /** The per-process limit while Redis is away: no breaker, and no booking (a held request comes back in about 1 s). */
  private admitUnshared(host: string): Slot | Refusal {
    const inFlight = this.unshared.get(host) ?? 0;
    if (inFlight >= this.options.concurrency) {
      return {
        admitted: false,
        reason: `held: host ${host} at its limit of ${this.options.concurrency} concurrent requests`,
        delayMs: Math.round(UNSHARED_HOLD_MS * (0.9 + 0.2 * this.random())),
      };
    }
    this.unshared.set(host, inFlight + 1);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const left = (this.unshared.get(host) ?? 1) - 1;
      if (left > 0) this.unshared.set(host, left);
      else this.unshared.delete(host);
    };
    return { admitted: true, done: end, cancel: end };
  }

  private redisAway(error: Error): void {
    const now = this.clock();
    if (now < this.redisAwayUntil) return;
    this.redisAwayUntil = now + REDIS_RETRY_MS;
    this.options.onRedisAway?.(error, REDIS_RETRY_MS);
  }

  /** Reports a host's circuit state when it differs from what this process saw last (closed hosts are not kept). */
  private show(host: string, state: CircuitState): void {
    if ((this.shown.get(host) ?? 'closed') === state) return;
    if (state === 'closed') this.shown.delete(host);
    else this.shown.set(host, state);
    this.options.onStateChange?.(host, state);
  }
}
