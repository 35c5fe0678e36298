import { Module } from '@nestjs/common';
import { TargetPolicyService } from './target-policy.service.js';

/** Where webhooks may go: checked when an agent event is written and again on the address each request connects to. */
@Module({ providers: [TargetPolicyService], exports: [TargetPolicyService] })
export class TargetPolicyModule {}
