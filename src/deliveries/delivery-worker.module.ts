import { Module } from '@nestjs/common';
import { DeliveryQueueModule } from './delivery-queue.module.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryService } from './delivery.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { WebhookSenderModule } from './webhook-sender.module.js';

/** The worker side: the BullMQ processor, the sender and the reconciler. No HTTP endpoints. */
@Module({
  imports: [WebhookSenderModule, DeliveryQueueModule],
  providers: [DeliveryProcessor, DeliveryService, ReconcilerService],
  exports: [ReconcilerService],
})
export class DeliveryWorkerModule {}
