import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { DeliveryQueueModule } from './delivery-queue.module.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryService } from './delivery.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { RetentionService } from './retention.service.js';
import { WebhookSenderService } from './webhook-sender.service.js';
import { ReceiverIsolationModule } from '../receiver-isolation/receiver-isolation.module.js';
import { TargetPolicyModule } from '../target-policy/target-policy.module.js';

/** The worker side: the BullMQ processor, the sender, the reconciler and the pruning of old history. No HTTP endpoints. */
@Module({
  imports: [HttpModule, DeliveryQueueModule, TargetPolicyModule, ReceiverIsolationModule],
  providers: [DeliveryProcessor, DeliveryService, WebhookSenderService, ReconcilerService, RetentionService],
  exports: [ReconcilerService],
})
export class DeliveryWorkerModule {}
