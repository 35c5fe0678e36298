import { Module } from '@nestjs/common';
import { AgentEventsModule } from '../agent-events/agent-events.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { DeliveriesController } from './deliveries.controller.js';
import { DeliveryLogService } from './delivery-log.service.js';
import { DeliveryQueueModule } from './delivery-queue.module.js';

/** The delivery log API. */
@Module({
  imports: [ClientsModule, AgentEventsModule, DeliveryQueueModule],
  controllers: [DeliveriesController],
  providers: [DeliveryLogService],
})
export class DeliveriesModule {}
