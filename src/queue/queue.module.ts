import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { WEBHOOK_QUEUE } from './queue.constants.js';
import { redisOptions } from './redis-options.js';

/** The one place that registers the queues and their default job options. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: { ...redisOptions(config.redisUrl), maxRetriesPerRequest: null } as ConnectionOptions,
        prefix: config.queuePrefix,
      }),
    }),
    BullModule.registerQueue({
      name: WEBHOOK_QUEUE,
      defaultJobOptions: {
        // The delivery service owns the retry schedule (MySQL counts the attempts); BullMQ only re-runs
        // a job when the processor asks for it, so this ceiling is never the one that ends a delivery.
        attempts: 1000,
        backoff: { type: 'delivery-schedule' },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
        // A failed attempt's reason is one line (what the receiver did); no stack trace kept beside it in Redis.
        stackTraceLimit: 0,
      },
    }),
  ],
  exports: [BullModule],
})
export class QueueModule {}
