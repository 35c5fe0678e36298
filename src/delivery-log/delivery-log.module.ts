import { Module } from '@nestjs/common';
import { AgentEventsModule } from '../agent-events/agent-events.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryLogController } from './delivery-log.controller.js';
import { DeliveryLogService } from './delivery-log.service.js';
import { StateSyncService } from './state-sync.service.js';
import { StatusModule } from '../status/status.module.js';

/** The delivery log API, and state syncs (a delivery made on request). */
@Module({
  imports: [ClientsModule, AgentEventsModule, DeliveriesModule, StatusModule],
  controllers: [DeliveryLogController],
  providers: [DeliveryLogService, StateSyncService],
})
export class DeliveryLogModule {}
