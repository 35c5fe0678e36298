import { TypeOrmModule } from '@nestjs/typeorm';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { Module } from '@nestjs/common';
import { Agent } from './entities/agent.entity.js';
import { ClientsModule } from '../clients/clients.module.js';
import { StatusModule } from '../status/status.module.js';
import { AgentsRepository } from './agents.repository.js';
import { AgentsService } from './agents.service.js';
import { LocalAgentsController } from './local-agents.controller.js';
import { RemoteAgentsController } from './remote-agents.controller.js';

@Module({
  imports: [TypeOrmModule.forFeature([Agent]), ClientsModule, DeliveriesModule, StatusModule],
  controllers: [LocalAgentsController, RemoteAgentsController],
  providers: [AgentsRepository, AgentsService],
  exports: [AgentsRepository, AgentsService],
})
export class AgentsModule {}
