import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { ApplicationsController } from './applications.controller.js';
import { ApplicationsRepository } from './applications.repository.js';
import { ApplicationsService } from './applications.service.js';

@Module({
  imports: [ClientsModule],
  controllers: [ApplicationsController],
  providers: [ApplicationsRepository, ApplicationsService],
  exports: [ApplicationsRepository, ApplicationsService],
})
export class ApplicationsModule {}
