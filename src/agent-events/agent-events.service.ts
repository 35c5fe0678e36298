import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AgentsService } from '../agents/agents.service.js';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { TargetPolicyService } from '../deliveries/target-policy.service.js';
import type { AgentEventResponseDto, CreateAgentEventDto, UpdateAgentEventDto } from './dto/agent-event.dto.js';
import { AgentEvent } from './entities/agent-event.entity.js';

export function toAgentEventResponse(event: AgentEvent): AgentEventResponseDto {
  return { url: event.url, method: event.method, event_type: event.eventType, id: event.id };
}

/** Subscriptions of local and remote agents alike; the agent type is a parameter. */
@Injectable()
export class AgentEventsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clients: ClientsService,
    private readonly agents: AgentsService,
    private readonly targets: TargetPolicyService,
  ) {}

  async create(clientId: string, type: AgentType, agentId: number, dto: CreateAgentEventDto): Promise<AgentEventResponseDto> {
    this.targets.assertAllowedUrl(dto.url);
    const event = await this.dataSource.transaction(async (manager) => {
      // The agent's row first, then the client's: the order of every writer of agents (an UPDATE of an agent
      // locks its client's row for the foreign key), so the two cannot deadlock. The agent's lock makes a
      // concurrent delete of it either wait for this insert or turn this into a 404.
      await this.agents.require(clientId, type, agentId, manager, 'pessimistic_write');
      // The client's row lock serialises creates of one client, so the count cannot be raced past the limit.
      const client = await this.clients.require(clientId, manager, true);
      const count = await manager.getRepository(AgentEvent).countBy({ clientId });
      if (count >= client.agentEventLimit) {
        throw new ApiError(
          HttpStatus.FORBIDDEN,
          'limit_exceeded',
          `Client ${clientId} has ${count} agent events, its limit is ${client.agentEventLimit}.`,
        );
      }
      const event = manager
        .getRepository(AgentEvent)
        .create({ clientId, agentId, url: dto.url, eventType: dto.event_type, method: dto.method });
      await manager.getRepository(AgentEvent).insert(event);
      return event;
    });
    return toAgentEventResponse(event);
  }

  async list(clientId: string, type: AgentType, agentId: number): Promise<AgentEventResponseDto[]> {
    await this.agents.require(clientId, type, agentId);
    const events = await this.dataSource.getRepository(AgentEvent).find({ where: { agentId }, order: { id: 'ASC' } });
    return events.map(toAgentEventResponse);
  }

  async get(clientId: string, type: AgentType, agentId: number, eventId: number): Promise<AgentEventResponseDto> {
    return toAgentEventResponse(await this.require(clientId, type, agentId, eventId));
  }

  async update(
    clientId: string,
    type: AgentType,
    agentId: number,
    eventId: number,
    dto: UpdateAgentEventDto,
  ): Promise<AgentEventResponseDto> {
    if (dto.url !== undefined) this.targets.assertAllowedUrl(dto.url);
    const event = await this.require(clientId, type, agentId, eventId);
    const changes = { url: dto.url ?? event.url, eventType: dto.event_type ?? event.eventType, method: dto.method ?? event.method };
    await this.dataSource.getRepository(AgentEvent).update({ id: event.id }, changes);
    return toAgentEventResponse({ ...event, ...changes });
  }

  async remove(clientId: string, type: AgentType, agentId: number, eventId: number): Promise<void> {
    const event = await this.require(clientId, type, agentId, eventId);
    const result = await this.dataSource.getRepository(AgentEvent).delete({ id: event.id });
    if (!result.affected) throw ApiError.notFound('event_not_found', `Agent ${agentId} has no agent event ${eventId}.`);
  }

  /** The agent event, or 404 naming what is missing: the client, the agent, or the event. */
  async require(
    clientId: string,
    type: AgentType,
    agentId: number,
    eventId: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<AgentEvent> {
    const event = await manager.getRepository(AgentEvent).findOneBy({ id: eventId, agentId, clientId });
    if (event) {
      await this.agents.require(clientId, type, agentId, manager);
      return event;
    }
    await this.agents.require(clientId, type, agentId, manager);
    throw ApiError.notFound('event_not_found', `Agent ${agentId} has no agent event ${eventId}.`);
  }
}
