import { Module } from '@nestjs/common';
import { AgentEventsModule } from '../agent-events/agent-events.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryLogController } from './delivery-log.controller.js';
import { DeliveryLogService } from './delivery-log.service.js';

/** The delivery log API. */
@Module({
  imports: [ClientsModule, AgentEventsModule, DeliveriesModule],
  controllers: [DeliveryLogController],
  providers: [DeliveryLogService],
})
export class DeliveryLogModule {}
