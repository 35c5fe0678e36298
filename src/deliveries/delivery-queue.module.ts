import { Module } from '@nestjs/common';
import { DeliveryQueueService } from './delivery-queue.service.js';
import { TargetPolicyService } from './target-policy.service.js';

/** What the API side needs of delivery: enqueueing after commit, and the target policy for subscription URLs. */
@Module({ providers: [DeliveryQueueService, TargetPolicyService], exports: [DeliveryQueueService, TargetPolicyService] })
export class DeliveryQueueModule {}
