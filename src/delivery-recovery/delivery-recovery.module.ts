import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { DeliveryRecoveryController } from './delivery-recovery.controller.js';
import { DeliveryRecoveryService } from './delivery-recovery.service.js';

/** Bulk recovery of dead deliveries and its progress. */
@Module({
  imports: [ClientsModule, DeliveriesModule],
  controllers: [DeliveryRecoveryController],
  providers: [DeliveryRecoveryService],
})
export class DeliveryRecoveryModule {}
