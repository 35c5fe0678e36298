import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AgentsService } from '../agents/agents.service.js';
import type { Agent, AgentType } from '../agents/entities/agent.entity.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { ClientsRepository } from '../clients/clients.repository.js';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { maskUrlPassword } from '../common/url-credentials.js';
import { transaction } from '../database/transaction.js';
import { TargetPolicyService } from '../target-policy/target-policy.service.js';
import type { AgentEventResponseDto, CreateAgentEventDto, UpdateAgentEventDto } from './dto/agent-event.dto.js';
import { AgentEventsRepository, type AgentEventChanges, type AgentEventRow } from './agent-events.repository.js';
import type { AgentEvent } from './entities/agent-event.entity.js';

export function toAgentEventResponse(event: AgentEvent): AgentEventResponseDto {
  return { url: maskUrlPassword(event.url), method: event.method, event_type: event.eventType, id: event.id };
}

/** Subscriptions of local and remote agents alike; the agent type is a parameter. */
@Injectable()
export class AgentEventsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AgentEventsRepository,
    private readonly clients: ClientsService,
    private readonly clientsRepository: ClientsRepository,
    private readonly agents: AgentsService,
    private readonly targets: TargetPolicyService,
    private readonly deliveries: DeliveriesRepository,
  ) {}

  async create(clientId: string, type: AgentType, agentId: number, dto: CreateAgentEventDto): Promise<AgentEventResponseDto> {
    this.targets.assertAllowedUrl(dto.url);
    const event = await transaction(this.dataSource, async (manager) => {
      // The agent's row first, then the client's: the order of every writer of agents (an UPDATE of an agent
      // locks its client's row for the foreign key), so the two cannot deadlock. The agent's lock makes a
      // concurrent delete of it either wait for this insert or turn this into a 404.
      await this.agents.require(clientId, type, agentId, manager, true);
      // One conditional UPDATE both checks the limit and counts the new event (see countAgentEvent).
      if (!(await this.clientsRepository.countAgentEvent(manager, clientId))) {
        const client = await this.clients.require(clientId, manager);
        throw new ApiError(
          HttpStatus.FORBIDDEN,
          'limit_exceeded',
          `Client ${clientId} has ${client.agentEventCount} agent events, its limit is ${client.agentEventLimit}.`,
        );
      }
      return this.repository.insert(manager, { clientId, agentId, url: dto.url, eventType: dto.event_type, method: dto.method });
    });
    return toAgentEventResponse(event);
  }

  async list(clientId: string, type: AgentType, agentId: number): Promise<AgentEventResponseDto[]> {
    const rows = await this.repository.listForAgent(clientId, type, agentId);
    if (rows === null) await this.agents.require(clientId, type, agentId);
    return (rows ?? []).map(({ url, method, event_type, id }) => ({ url: maskUrlPassword(url), method, event_type, id }));
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
    const changes: AgentEventChanges = {
      ...(dto.url !== undefined ? { url: dto.url } : {}),
      ...(dto.event_type !== undefined ? { event_type: dto.event_type } : {}),
      ...(dto.method !== undefined ? { method: dto.method } : {}),
    };
    return transaction(this.dataSource, async (manager) => {
      // The agent first (the order of every writer of an agent and its agent events), then the event's row: a
      // concurrent DELETE has either committed (404) or waits; a concurrent PUT waits and keeps this one's columns.
      const { event } = await this.requireLocked(manager, clientId, type, agentId, eventId);
      await this.repository.update(manager, event.id, changes);
      const updated = { ...event, ...changes };
      return { ...updated, url: maskUrlPassword(updated.url) };
    });
  }

  async remove(clientId: string, type: AgentType, agentId: number, eventId: number): Promise<void> {
    await transaction(this.dataSource, async (manager) => {
      // Agent, client, then the agent event: the order of every writer of agent events. The count goes down by
      // what this statement deleted.
      await this.agents.require(clientId, type, agentId, manager, true);
      await this.clientsRepository.lock(manager, clientId);
      const deleted = await this.repository.delete(manager, agentId, eventId);
      if (deleted === 0) throw ApiError.notFound('event_not_found', `Agent ${agentId} has no agent event ${eventId}.`);
      await this.clientsRepository.addAgentEvents(manager, clientId, -deleted);
      // Its webhooks still waiting for a receiver stop with it.
      await this.deliveries.cancelPending(manager, { agentEventId: eventId }, 'cancelled: the agent event was deleted');
    });
  }

  /**
   * In the caller's transaction: the agent and its agent event, the agent's row locked first and then the event's (the
   * order of every writer of an agent and its agent events), or 404 naming what is missing.
   */
  async requireLocked(
    manager: EntityManager,
    clientId: string,
    type: AgentType,
    agentId: number,
    eventId: number,
  ): Promise<{ agent: Agent; event: AgentEventRow }> {
    const agent = await this.agents.require(clientId, type, agentId, manager, true);
    const event = await this.repository.findForUpdate(manager, agentId, eventId);
    if (!event) throw ApiError.notFound('event_not_found', `Agent ${agentId} has no agent event ${eventId}.`);
    return { agent, event };
  }

  /** The agent event, or 404 naming what is missing: the client, the agent, or the event. */
  async require(
    clientId: string,
    type: AgentType,
    agentId: number,
    eventId: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<AgentEvent> {
    const event = await this.repository.find(clientId, agentId, eventId, manager);
    if (event) {
      await this.agents.require(clientId, type, agentId, manager);
      return event;
    }
    await this.agents.require(clientId, type, agentId, manager);
    throw ApiError.notFound('event_not_found', `Agent ${agentId} has no agent event ${eventId}.`);
  }
}
