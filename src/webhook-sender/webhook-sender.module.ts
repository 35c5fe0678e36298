import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { TargetPolicyModule } from '../target-policy/target-policy.module.js';
import { WebhookSenderService } from './webhook-sender.service.js';

/**
 * Sends one signed webhook request: used by the worker for deliveries and by the API for test events. Its axios instance
 * is its own (`register`), not the process's default one: the sender drops that instance's default headers.
 */
@Module({
  imports: [HttpModule.register({}), TargetPolicyModule],
  providers: [WebhookSenderService],
  exports: [WebhookSenderService],
})
export class WebhookSenderModule {}
