import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';

const WINDOW_MS = 3600_000;

/** One round trip: count the request and read how long the client's hour has left (it starts at its first request). */
const CONSUME = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}`;

/**
 * One round trip: the highest count among the keys that have reached their limit (ARGV[i] for KEYS[i]), and the
 * longest time such a key has left; {0, 0} when none has.
 */
const PAST_LIMIT = `
local over = 0
local ttl = 0
for i, key in ipairs(KEYS) do
  local hits = tonumber(redis.call('GET', key) or '0')
  if hits >= tonumber(ARGV[i]) then
    over = math.max(over, hits)
    ttl = math.max(ttl, redis.call('PTTL', key))
  end
end
return {over, ttl}`;

export interface Budget {
  limit: number;
  remaining: number;
  /** Seconds until the window ends and the budget is full again. */
  resetSeconds: number;
  exceeded: boolean;
}

type RedisWithConsume = RedisClient & {
  consumeBudget(key: string, windowMs: number): Promise<[number, number]>;
  pastLimit(...keysThenLimits: (string | number)[]): Promise<[number, number]>;
};

/** A counter of failures (e.g. wrong token credentials) under one key, and how many it may reach. */
export interface FailureCounter {
  key: string;
  limit: number;
}

/**
 * Each client's requests per hour, counted in Redis so that the budget holds across API processes. A fixed window
 * per client that begins with its first request. If Redis does not answer, requests pass uncounted: the budget
 * protects the service, and MySQL-backed work must not stop because the counter is away.
 */
@Injectable()
export class RateLimitService implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly redis: RedisWithConsume;
  private readonly keyPrefix: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly clients: ClientsService,
  ) {
    this.redis = createRedis(config, 'rate-limits') as RedisWithConsume;
    this.redis.defineCommand('consumeBudget', { numberOfKeys: 1, lua: CONSUME });
    this.redis.defineCommand('pastLimit', { lua: PAST_LIMIT });
    // Beside the queue's keys, in the same hash slot: one prefix per deployment (and per test suite).
    this.keyPrefix = `${config.queuePrefix}:rate-limit:`;
  }

  /** Counts one request of the client; null when Redis could not count it. */
  async consume(clientId: string): Promise<Budget | null> {
    const limit = await this.clients.rateLimitPerHour(clientId);
    let hits: number;
    let ttlMs: number;
    try {
      [hits, ttlMs] = await this.redis.consumeBudget(`${this.keyPrefix}${clientId}`, WINDOW_MS);
    } catch (error) {
      this.logger.warn(`request of client ${clientId} not counted: ${(error as Error).message}`);
      return null;
    }
    return { limit, remaining: Math.max(0, limit - hits), resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)), exceeded: hits > limit };
  }

  /**
   * Seconds until the first of these counters that has reached its limit lets requests through again; 0 when none has
   * (or Redis could not tell: as with the budgets, requests then pass uncounted).
   */
  async secondsBlocked(counters: FailureCounter[]): Promise<number> {
    const keys = counters.map((counter) => `${this.keyPrefix}${counter.key}`);
    try {
      const [over, ttlMs] = await this.redis.pastLimit(keys.length, ...keys, ...counters.map((counter) => counter.limit));
      return over > 0 ? Math.max(1, Math.ceil(ttlMs / 1000)) : 0;
    } catch (error) {
      this.logger.warn(`failures not checked: ${(error as Error).message}`);
      return 0;
    }
  }

  /** Counts one failure on each counter, in a window per counter that begins with its first failure. */
  async countFailure(counters: FailureCounter[], windowMs: number): Promise<void> {
    try {
      await Promise.all(counters.map((counter) => this.redis.consumeBudget(`${this.keyPrefix}${counter.key}`, windowMs)));
    } catch (error) {
      this.logger.warn(`failure not counted: ${(error as Error).message}`);
    }
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
