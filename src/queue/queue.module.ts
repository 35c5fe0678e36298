import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE } from './queue.constants.js';
import { WebhookProducer } from './webhook-producer.js';
import { redisOptions } from './redis-options.js';

/** The one place that registers the queues and their default job options, and the API's fail-fast producer. */
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
    // The worker's side: BullMQ's blocking connection (`maxRetriesPerRequest: null`), and Bull Board's view.
    BullModule.registerQueue({ name: WEBHOOK_QUEUE, defaultJobOptions: WEBHOOK_JOB_OPTIONS }),
  ],
  providers: [WebhookProducer],
  exports: [BullModule, WebhookProducer],
})
export class QueueModule {}
