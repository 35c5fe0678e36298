import { TypeOrmModule } from '@nestjs/typeorm';
import { DeliveriesModule } from '../deliveries/deliveries.module.js';
import { Module } from '@nestjs/common';
import { AgentEvent } from './entities/agent-event.entity.js';
import { AgentsModule } from '../agents/agents.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { WebhookSenderModule } from '../webhook-sender/webhook-sender.module.js';
import { AgentEventTestService } from './agent-event-test.service.js';
import { AgentEventsRepository } from './agent-events.repository.js';
import { AgentEventsService } from './agent-events.service.js';
import { LocalAgentEventsController } from './local-agent-events.controller.js';
import { RemoteAgentEventsController } from './remote-agent-events.controller.js';
import { TargetPolicyModule } from '../target-policy/target-policy.module.js';

@Module({
  imports: [TypeOrmModule.forFeature([AgentEvent]), ClientsModule, AgentsModule, DeliveriesModule, TargetPolicyModule, WebhookSenderModule],
  controllers: [LocalAgentEventsController, RemoteAgentEventsController],
  providers: [AgentEventsRepository, AgentEventsService, AgentEventTestService],
  exports: [AgentEventsRepository, AgentEventsService],
})
export class AgentEventsModule {}
