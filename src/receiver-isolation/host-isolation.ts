import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connections.js';
import { MicroBatcher } from '../common/micro-batcher.js';
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
 * The host slots' operations, in the order they were asked for, in one script: a batch of whatever the worker asked
 * while the previous batch was in flight (micro-batcher.ts), so a slot given back always counts before a later
 * request's ask, and a busy worker makes one round trip for many requests instead of two each. KEYS: three per
 * operation (the host's slots, circuit and window). ARGV: lease ms, concurrency, open ms, idle ms, initial latency,
 * error percent, min requests, window ms; then six per operation: kind (a: acquire, r: release, c: cancel), now, lease
 * id, failed (1/0), probe (1/0), duration ms. Returns two values per operation: {verdict, time} for an acquire, {the
 * circuit's state, 0} for a release, {'', 0} for a cancel.
 *
 * acquire: the circuit (open, or half-open with its one probe), then a lease on one of the host's slots (a sorted set
 * of lease ids by expiry; expired leases are dropped first). A request at the limit books its share of the host's
 * latency after those booked before it, counting the oldest request still running as at least as slow as it has been.
 *
 * release: gives the lease back, learns the host's latency (moving average), and counts the outcome in a rolling
 * window of 10 buckets (fields n<i>, f<i>, b<i>: requests, failures, and which bucket slot i holds). A probe closes
 * the circuit (a fresh window) or opens it again; more than `errorPercent` failures of at least `minRequests` open it.
 * Requests that end while it is open are not counted.
 *
 * cancel: a slot given back unused: no outcome to count; a probe's turn is free again.
 */
const SLOT_OPERATIONS = `
local leaseMs = tonumber(ARGV[1])
local concurrency = tonumber(ARGV[2])
local openMs = tonumber(ARGV[3])
local idleMs = ARGV[4]
local initialLatency = tonumber(ARGV[5])
local errorPercent = tonumber(ARGV[6])
local minRequests = tonumber(ARGV[7])
local windowMs = tonumber(ARGV[8])

local function acquire(slots, circuitKey, now, lease)
  local circuit = redis.call('HMGET', circuitKey, 'open_until', 'probe_until', 'latency', 'booked_until')
  local openUntil = tonumber(circuit[1] or '0')
  local probe = false
  if openUntil > 0 then
    if now < openUntil then return 'open', openUntil end
    if now < tonumber(circuit[2] or '0') then return 'probing', 0 end
    probe = true
  end
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= concurrency then
    local oldest = redis.call('ZRANGE', slots, 0, 0, 'WITHSCORES')
    local latency = math.max(tonumber(circuit[3]) or initialLatency, now - (tonumber(oldest[2]) - leaseMs))
    local booked = math.floor(math.min(math.max(tonumber(circuit[4] or '0'), now) + latency / concurrency, now + openMs))
    redis.call('HSET', circuitKey, 'booked_until', booked)
    redis.call('PEXPIRE', circuitKey, idleMs)
    return 'full', booked
  end
  redis.call('ZADD', slots, now + leaseMs, lease)
  redis.call('PEXPIRE', slots, leaseMs)
  if probe then
    redis.call('HSET', circuitKey, 'probe_until', now + leaseMs)
    return 'probe', 0
  end
  return 'run', 0
end

local function release(slots, circuitKey, window, now, lease, failed, probe, duration)
  redis.call('ZREM', slots, lease)
  local latency = tonumber(redis.call('HGET', circuitKey, 'latency')) or initialLatency
  redis.call('HSET', circuitKey, 'latency', 0.8 * latency + 0.2 * duration)
  redis.call('PEXPIRE', circuitKey, idleMs)
  local function open()
    redis.call('HSET', circuitKey, 'open_until', now + openMs)
    redis.call('HDEL', circuitKey, 'probe_until')
    redis.call('DEL', window)
    return 'open'
  end
  if probe then
    if failed then return open() end
    redis.call('HDEL', circuitKey, 'open_until', 'probe_until')
    return 'closed'
  end
  if redis.call('HEXISTS', circuitKey, 'open_until') == 1 then return 'open' end
  local bucket = math.floor(now * 10 / windowMs)
  local slot = bucket % 10
  if tonumber(redis.call('HGET', window, 'b' .. slot) or '-1') ~= bucket then
    redis.call('HSET', window, 'b' .. slot, bucket, 'n' .. slot, 0, 'f' .. slot, 0)
  end
  redis.call('HINCRBY', window, 'n' .. slot, 1)
  redis.call('PEXPIRE', window, windowMs)
  if not failed then return 'closed' end
  redis.call('HINCRBY', window, 'f' .. slot, 1)
  local total, failures = 0, 0
  for i = 0, 9 do
    local counts = redis.call('HMGET', window, 'b' .. i, 'n' .. i, 'f' .. i)
    if counts[1] and tonumber(counts[1]) > bucket - 10 then
      total = total + tonumber(counts[2])
      failures = failures + tonumber(counts[3])
    end
  end
  if total >= minRequests and failures * 100 > errorPercent * total then return open() end
  return 'closed'
end

local out = {}
for i = 0, #KEYS / 3 - 1 do
  local k, a = i * 3, 8 + i * 6
  local kind, now, lease = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local result, time = '', 0
  if kind == 'a' then
    result, time = acquire(KEYS[k + 1], KEYS[k + 2], now, lease)
  elseif kind == 'r' then
    result = release(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], now, lease, ARGV[a + 4] == '1', ARGV[a + 5] == '1', tonumber(ARGV[a + 6]))
  else
    redis.call('ZREM', KEYS[k + 1], lease)
    if ARGV[a + 5] == '1' then redis.call('HDEL', KEYS[k + 2], 'probe_until') end
  end
  out[i * 2 + 1] = result
  out[i * 2 + 2] = time
end
return out`;

/** The script above, one round trip per batch (redis-script.ts), on the connection the isolation is given. */
const SLOT_SCRIPT = redisScript<(string | number)[]>('hostSlotOperations', undefined, SLOT_OPERATIONS);

/** One operation on a host's slots, as the script takes it. */
interface SlotOperation {
  kind: 'a' | 'r' | 'c';
  host: string;
  now: number;
  lease: string;
  failed?: boolean;
  probe?: boolean;
  durationMs?: number;
}

/** Up to 128 operations per script, one script in flight per connection (the order of the operations is kept). */
const SLOT_BATCHING = { maxSize: 128, maxInFlight: 1 };

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
  /** The slots' operations of this process, batched in the order asked (see SLOT_OPERATIONS). */
  private readonly operations = new MicroBatcher<SlotOperation, [string, number]>((batch) => this.run(batch), SLOT_BATCHING);
  /** Operations asked for and not carried out yet (see `settled`). */
  private readonly unsettled = new Set<Promise<unknown>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly options: HostIsolationOptions,
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * A slot of `host` if it has a free one and a closed circuit (or this is the half-open probe), or when to try again:
   * one round trip, shared with the other operations of the moment. The caller ends the slot with `done` once its
   * request is through, or `cancel` if it sends none.
   */
  async admit(host: string): Promise<Slot | Refusal> {
    if (this.clock() < this.redisAwayUntil) return this.admitUnshared(host);
    const lease = randomUUID();
    let verdict: Verdict;
    try {
      const [kind, time] = (await this.operate({ kind: 'a', host, now: this.clock(), lease })) as [Verdict['kind'], number];
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
    // Not awaited: the outcome does not wait for Redis. It is carried out before any operation asked after it.
    const giveBack = (operation: Omit<SlotOperation, 'host' | 'lease' | 'now' | 'probe'>) => {
      void this.operate({ ...operation, host, lease, probe, now: this.clock() }).then(
        ([state]) => operation.kind === 'r' && this.show(host, state as CircuitState),
        (error: Error) => this.redisAway(error), // the lease expires by itself
      );
    };
    return {
      admitted: true,
      done: (failed, durationMs) => giveBack({ kind: 'r', failed, durationMs }),
      // No request went out: the slot is free again, and a probe's turn goes to the next request.
      cancel: () => giveBack({ kind: 'c' }),
    };
  }

  /**
   * Resolves once Redis carried out (or failed) every operation asked for so far, slots given back included: before a
   * shutdown.
   */
  async settled(): Promise<void> {
    while (this.unsettled.size > 0) await Promise.allSettled(this.unsettled);
  }

  private operate(operation: SlotOperation): Promise<[string, number]> {
    const result = this.operations.add(operation);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.unsettled.add(settled);
    void settled.then(() => this.unsettled.delete(settled));
    return result;
  }

  /** One script for a batch of operations, each with its host's three keys (on a Cluster, all in the prefix's hash slot). */
  private async run(batch: SlotOperation[]): Promise<[string, number][]> {
    const { concurrency, openMs, probeMs, windowMs, errorPercent, minRequests } = this.options;
    const keys = batch.flatMap(({ host }) => ['slots', 'circuit', 'window'].map((name) => `${this.keyPrefix}:host:${host}:${name}`));
    const common = [
      probeMs + LEASE_MARGIN_MS,
      concurrency,
      openMs,
      2 * windowMs + openMs,
      INITIAL_LATENCY_MS,
      errorPercent,
      minRequests,
      windowMs,
    ];
    const each = batch.flatMap(({ kind, now, lease, failed, probe, durationMs }) => [
      kind,
      now,
      lease,
      failed ? 1 : 0,
      probe ? 1 : 0,
      durationMs ?? 0,
    ]);
    const replies = await SLOT_SCRIPT(this.redis, keys.length, ...keys, ...common, ...each);
    return batch.map((_, i) => [String(replies[2 * i]), Number(replies[2 * i + 1])]);
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
