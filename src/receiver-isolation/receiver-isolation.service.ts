import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { HostIsolation } from './host-isolation.js';

/** This worker process's per-host concurrency limits and circuit breakers, set from the configuration. */
@Injectable()
export class ReceiverIsolationService extends HostIsolation implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: MetricsService) {
    super({
      concurrency: config.webhook.hostConcurrency,
      ...config.webhook.breaker,
      probeMs: config.webhook.timeoutMs,
      onStateChange: (host, state) => metrics.setBreakerState(host, state === 'half-open' ? 'half_open' : state),
    });
  }

  onApplicationShutdown(): void {
    this.shutdown();
  }
}
