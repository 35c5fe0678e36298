import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { HostIsolation } from './host-isolation.js';

/** This worker process's per-host concurrency limits and circuit breakers, set from the configuration. */
@Injectable()
export class ReceiverIsolationService extends HostIsolation implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({ concurrency: config.webhook.hostConcurrency, ...config.webhook.breaker, probeMs: config.webhook.timeoutMs });
  }

  onApplicationShutdown(): void {
    this.shutdown();
  }
}
