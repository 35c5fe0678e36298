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
 * How long a process keeps a slot it was given, after its request, for its next request to the same host: only while
 * the host had at most a quarter of its slots in use when the slot was given (far from its limit, where no other
 * request waits for it) and its circuit is closed. At an everyday rate most requests go on such a slot, without a
 * round trip to Redis; their outcomes are counted when the slot is given back (a failure at once, with the successes
 * before it).
 */
const KEEP_MS = 100;

/**
 * The host slots' operations, in the order they were asked for, in one script: a batch of whatever the worker asked
 * while the previous batch was in flight (micro-batcher.ts), so a slot given back always counts before a later
 * request's ask, and a busy worker makes one round trip for many requests instead of two each. KEYS: three per
 * operation (the host's slots, circuit and window). ARGV: lease ms, concurrency, open ms, idle ms, initial latency,
 * error percent, min requests, window ms; then seven per operation: kind (a: acquire, r: release, c: cancel), now,
 * lease id, failed (1/0), probe (1/0), duration ms, requests (a release's outcomes: its successes before the last
 * request, and the last, which `failed` describes; `duration` is their mean). Returns two values per operation:
 * {verdict, time} for an acquire (the time: when to try again if refused, the host's free slots if admitted), {the
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
  return 'run', concurrency - redis.call('ZCARD', slots)
end

local function release(slots, circuitKey, window, now, lease, failed, probe, duration, requests)
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
  redis.call('HINCRBY', window, 'n' .. slot, requests)
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
  local k, a = i * 3, 8 + i * 7
  local kind, now, lease = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local result, time = '', 0
  if kind == 'a' then
    result, time = acquire(KEYS[k + 1], KEYS[k + 2], now, lease)
  elseif kind == 'r' then
    result = release(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], now, lease, ARGV[a + 4] == '1', ARGV[a + 5] == '1', tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]))
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
  /** A release's outcomes (1 but for a kept slot's). */
  requests?: number;
}

/** A slot this process was given, while it holds it: in use, or kept for the host's next request (KEEP_MS). */
interface HeldSlot {
  host: string;
  lease: string;
  probe: boolean;
  /** When Redis gave it (this process's clock): its lease there ends `probeMs` + LEASE_MARGIN_MS later. */
  givenAt: number;
  /** Whether it may be kept: the host had at most a quarter of its slots in use when it was given. */
  keepable: boolean;
  /** Its KEEP_MS have passed since it was first kept: given back at the end of its request. */
  expired: boolean;
  /** The successful requests it carried since it was given, not counted in Redis yet, and their total duration. */
  successes: number;
  durationMs: number;
  timer?: NodeJS.Timeout;
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
  /** Slots kept for each host's next request (KEEP_MS), the last kept last. */
  private readonly kept = new Map<string, HeldSlot[]>();
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
   * one round trip, shared with the other operations of the moment, or none when this process kept a slot of the host
   * from its last request (KEEP_MS). The caller ends the slot with `done` once its request is through, or `cancel` if
   * it sends none.
   */
  async admit(host: string): Promise<Slot | Refusal> {
    if (this.clock() < this.redisAwayUntil) return this.admitUnshared(host);
    const kept = this.kept.get(host);
    const slot = kept?.pop();
    if (slot) {
      if (kept!.length === 0) this.kept.delete(host);
      return this.slotOf(slot);
    }
    const lease = randomUUID();
    let verdict: Verdict;
    let free = 0;
    try {
      const [kind, time] = (await this.operate({ kind: 'a', host, now: this.clock(), lease })) as [Verdict['kind'], number];
      verdict = kind === 'open' ? { kind, openUntil: time } : kind === 'full' ? { kind, bookedUntil: time } : { kind };
      if (kind === 'run') free = time;
    } catch (error) {
      this.redisAway(error as Error);
      return this.admitUnshared(host);
    }
    this.show(host, circuitState(verdict));
    if (verdict.kind !== 'run' && verdict.kind !== 'probe') {
      return { admitted: false, ...hold(host, verdict, this.clock(), this.options, this.random()) };
    }
    const probe = verdict.kind === 'probe';
    const { concurrency } = this.options;
    return this.slotOf({
      host,
      lease,
      probe,
      givenAt: this.clock(),
      keepable: !probe && 4 * (concurrency - free) <= concurrency,
      expired: false,
      successes: 0,
      durationMs: 0,
    });
  }

  /**
   * Resolves once Redis carried out (or failed) every operation asked for so far, slots given back included (the kept
   * ones are given back first): before a shutdown.
   */
  async settled(): Promise<void> {
    for (const host of [...this.kept.keys()]) this.giveBackKept(host);
    while (this.unsettled.size > 0) await Promise.allSettled(this.unsettled);
  }

  /**
   * A slot in use. Its end is not awaited: the outcome does not wait for Redis, and is carried out before any operation
   * asked after it. A success on a slot that may be kept keeps it for the host's next request; anything else gives
   * it back, with the successes it carried (and a failure after the other kept slots' successes).
   */
  private slotOf(slot: HeldSlot): Slot {
    const mayKeep = () =>
      slot.keepable &&
      !slot.expired &&
      (this.shown.get(slot.host) ?? 'closed') === 'closed' &&
      // Its next request still ends within its lease in Redis.
      this.clock() - slot.givenAt < LEASE_MARGIN_MS - KEEP_MS;
    return {
      admitted: true,
      done: (failed, durationMs) => {
        if (!failed && mayKeep()) {
          slot.successes++;
          slot.durationMs += durationMs;
          this.keep(slot);
          return;
        }
        if (failed) this.giveBackKept(slot.host);
        this.giveBack(slot, { failed, durationMs });
      },
      // No request went out: the slot is kept or free again, and a probe's turn goes to the next request.
      cancel: () => (mayKeep() ? this.keep(slot) : this.giveBack(slot)),
    };
  }

  /** Keeps a slot for the host's next request, until KEEP_MS after it was first kept. */
  private keep(slot: HeldSlot): void {
    const kept = this.kept.get(slot.host);
    if (kept) kept.push(slot);
    else this.kept.set(slot.host, [slot]);
    slot.timer ??= setTimeout(() => {
      slot.expired = true;
      const list = this.kept.get(slot.host);
      const index = list?.indexOf(slot) ?? -1;
      if (index < 0) return; // in use: given back at the end of its request
      list!.splice(index, 1);
      if (list!.length === 0) this.kept.delete(slot.host);
      this.giveBack(slot);
    }, KEEP_MS).unref();
  }

  /** Gives back every slot kept for `host`, with the successes they carried. */
  private giveBackKept(host: string): void {
    const kept = this.kept.get(host);
    if (!kept) return;
    this.kept.delete(host);
    for (const slot of kept) this.giveBack(slot);
  }

  /** Gives a slot back: a release counting its outcomes (the successes it carried, then `last`), or a cancel if none. */
  private giveBack(slot: HeldSlot, last?: { failed: boolean; durationMs: number }): void {
    clearTimeout(slot.timer);
    const requests = slot.successes + (last ? 1 : 0);
    const { host, lease, probe } = slot;
    const operation: SlotOperation =
      requests === 0
        ? { kind: 'c', host, lease, probe, now: this.clock() }
        : {
            kind: 'r',
            host,
            lease,
            probe,
            now: this.clock(),
            failed: last?.failed ?? false,
            durationMs: Math.round((slot.durationMs + (last?.durationMs ?? 0)) / requests),
            requests,
          };
    void this.operate(operation).then(
      ([state]) => operation.kind === 'r' && this.show(host, state as CircuitState),
      (error: Error) => this.redisAway(error), // the lease expires by itself
    );
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
    const each = batch.flatMap(({ kind, now, lease, failed, probe, durationMs, requests }) => [
      kind,
      now,
      lease,
      failed ? 1 : 0,
      probe ? 1 : 0,
      durationMs ?? 0,
      requests ?? 1,
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
    // Not closed any more: no slot of it stays kept (the next request asks Redis).
    if (state !== 'closed') this.giveBackKept(host);
    if ((this.shown.get(host) ?? 'closed') === state) return;
    if (state === 'closed') this.shown.delete(host);
    else this.shown.set(host, state);
    this.options.onStateChange?.(host, state);
  }
}
