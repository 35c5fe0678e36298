import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { ReceiverIsolationModule } from '../receiver-isolation/receiver-isolation.module.js';
import { StatusModule } from '../status/status.module.js';
import { WebhookSenderModule } from '../webhook-sender/webhook-sender.module.js';
import { DeliveryAttemptService } from './delivery-attempt.service.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { ReconcilerService } from './reconciler.service.js';
import { RetentionService } from './retention.service.js';

/** The worker side: the BullMQ processor, the sender, the reconciler and the pruning of old history. No HTTP endpoints. */
@Module({
  imports: [DeliveriesModule, StatusModule, WebhookSenderModule, ReceiverIsolationModule],
  providers: [DeliveryProcessor, DeliveryAttemptService, ReconcilerService, RetentionService],
  exports: [ReconcilerService, DeliveryProcessor],
})
export class DeliveryWorkerModule {}
