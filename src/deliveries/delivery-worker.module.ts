import { Module } from '@nestjs/common';
import { DeliveryQueueModule } from './delivery-queue.module.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryService } from './delivery.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { WebhookSenderModule } from './webhook-sender.module.js';
import { RetentionService } from './retention.service.js';
import { ReceiverIsolationModule } from '../receiver-isolation/receiver-isolation.module.js';

/** The worker side: the BullMQ processor, the sender, the reconciler and the pruning of old history. No HTTP endpoints. */
@Module({
  imports: [WebhookSenderModule, DeliveryQueueModule, ReceiverIsolationModule],
  providers: [DeliveryProcessor, DeliveryService, ReconcilerService, RetentionService],
  exports: [ReconcilerService],
})
export class DeliveryWorkerModule {}
