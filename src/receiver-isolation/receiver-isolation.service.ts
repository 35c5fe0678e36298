import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { throttledLog } from '../logging/throttled-log.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';
import { HostIsolation } from './host-isolation.js';

/** The deployment's per-host concurrency limits and circuit breakers, shared by every worker through Redis. */
@Injectable()
export class ReceiverIsolationService extends HostIsolation implements OnApplicationShutdown {
  /**
   * Auto-pipelined, and also the connection of the worker's other scripts on a delivery's path (fair shares, order
   * marks): the scripts one turn of the event loop issues leave in one write. A job's turn taken and its host slot go
   * together at its start, its slot's release and its order mark together at its end, and when a batch returns, a
   * batch's worth of them at once.
   */
  readonly connection: RedisClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: MetricsService) {
    const log = throttledLog(new Logger(ReceiverIsolationService.name));
    // On every delivery's path: a Redis that does not answer costs a delivery at most a second, then none for a while.
    const redis = createRedis(config, 'rate-limits', { commandTimeout: 1000, enableAutoPipelining: true });
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

  onApplicationShutdown(): void {
    this.connection.disconnect();
  }
}
