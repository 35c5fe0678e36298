import { Module } from '@nestjs/common';
import { DeliveryQueueService } from './delivery-queue.service.js';

/** What the API side needs of delivery: enqueueing after commit. */
@Module({ providers: [DeliveryQueueService], exports: [DeliveryQueueService] })
export class DeliveryQueueModule {}
