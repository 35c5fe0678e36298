import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { throttledLog } from '../logging/throttled-log.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';
import { HostIsolation } from './host-isolation.js';

/** The deployment's per-host concurrency limits and circuit breakers, shared by every worker through Redis. */
@Injectable()
export class ReceiverIsolationService extends HostIsolation implements OnApplicationShutdown {
  private readonly connection: RedisClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: MetricsService) {
    const log = throttledLog(new Logger(ReceiverIsolationService.name));
    // On every delivery's path: a Redis that does not answer costs a delivery at most a second, then none for a while.
    const redis = createRedis(config, 'rate-limits', { commandTimeout: 1000 });
    super(redis, config.queuePrefix, {
      concurrency: config.webhook.hostConcurrency,
      ...config.webhook.breaker,
      probeMs: config.webhook.timeoutMs,
      onStateChange: (host, state) => metrics.setBreakerState(host, state === 'half-open' ? 'half_open' : state),
      onRedisAway: (error, retryMs) =>
        log(`Redis did not answer (${error.message}): each worker limits its own requests per host, no breaker, for ${retryMs} ms`),
    });
    this.connection = redis;
  }

  /** After the worker's jobs ended (their slots given back): those slots are free in Redis before the connection closes. */
  async onApplicationShutdown(): Promise<void> {
    await this.settled();
    this.connection.disconnect();
  }
}
