import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { redisOptions } from '../redis/redis-options.js';
import { DeliveryQueueService } from './delivery-queue.service.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE } from './queue.constants.js';
import { WebhookProducer } from './webhook-producer.js';

/**
 * The delivery queue: the one place that registers the BullMQ queue and its default job options, the API's
 * fail-fast producer, and `DeliveryQueueService`, through which every committed delivery is enqueued.
 */
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
  providers: [WebhookProducer, DeliveryQueueService],
  exports: [BullModule, WebhookProducer, DeliveryQueueService],
})
export class DeliveryQueueModule {}
