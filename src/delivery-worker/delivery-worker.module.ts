import { Module } from '@nestjs/common';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryAttemptService } from './delivery-attempt.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { WebhookSenderModule } from '../webhook-sender/webhook-sender.module.js';
import { RetentionService } from './retention.service.js';
import { ReceiverIsolationModule } from '../receiver-isolation/receiver-isolation.module.js';

/** The worker side: the BullMQ processor, the sender, the reconciler and the pruning of old history. No HTTP endpoints. */
@Module({
  imports: [WebhookSenderModule, ReceiverIsolationModule],
  providers: [DeliveryProcessor, DeliveryAttemptService, ReconcilerService, RetentionService],
  exports: [ReconcilerService],
})
export class DeliveryWorkerModule {}
