import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { redisOptions } from './redis-options.js';

/** A plain Redis connection for health checks: fails fast instead of queueing commands while Redis is away. */
@Injectable()
export class RedisHealthClient implements OnApplicationShutdown {
  readonly redis: Redis;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = new Redis({ ...redisOptions(config.redisUrl), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.redis.on('error', () => undefined);
  }

  async ping(): Promise<string> {
    if (this.redis.status === 'wait') await this.redis.connect();
    return this.redis.ping();
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
