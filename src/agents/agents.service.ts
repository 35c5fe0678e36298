import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ClientsRepository } from '../clients/clients.repository.js';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { isDuplicateKey } from '../database/duplicate-key.js';
import { transaction } from '../database/transaction.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { StatusService, type StatusChangeResult } from '../status/status.service.js';
import { AGENT_KINDS, type AgentKind } from './agent-kind.js';
import { AgentsRepository } from './agents.repository.js';
import { Agent, type AgentStatus, type AgentType } from './entities/agent.entity.js';
import type { AgentState } from '../status/agent-state.js';

/** The fields a client sends for an agent of either type. */
export interface AgentFields {
  extension_name?: string;
  agent_number?: string;
  status?: AgentStatus;
}

export type AgentResponse = { id: number; status: AgentStatus } & ({ extension_name: string } | { agent_number: string });

export function toAgentResponse(agent: AgentState): AgentResponse {
  const kind = AGENT_KINDS[agent.agentType];
  return { id: agent.id, [kind.nameField]: agent[kind.column] ?? '', status: agent.agentStatus } as AgentResponse;
}

/** Local and remote agents alike; the type is a parameter. */
@Injectable()
export class AgentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AgentsRepository,
    private readonly clients: ClientsService,
    private readonly clientsRepository: ClientsRepository,
    private readonly status: StatusService,
    private readonly deliveries: DeliveriesRepository,
  ) {}

  async create(clientId: string, type: AgentType, fields: AgentFields): Promise<AgentResponse> {
    const kind = AGENT_KINDS[type];
    await this.clients.require(clientId);
    const agent = this.repository.create({
      clientId,
      agentType: type,
      [kind.column]: fields[kind.nameField],
      agentStatus: 'logged_out',
      statusSequence: 0,
    });
    await this.saveUnique(kind, fields, () => transaction(this.dataSource, (manager) => this.repository.insert(manager, agent)));
    return toAgentResponse(agent);
  }

  async list(clientId: string, type: AgentType): Promise<AgentResponse[]> {
    await this.clients.require(clientId);
    const agents = await this.repository.listForClient(clientId, type);
    return agents.map(toAgentResponse);
  }

  async get(clientId: string, type: AgentType, agentId: number): Promise<AgentResponse> {
    return toAgentResponse(await this.require(clientId, type, agentId));
  }

  /**
   * The agent, or 404: `client_not_found` first, then `agent_not_found` (also for an agent of the other type).
   * `lock` (inside a transaction) holds the agent's row, so a concurrent delete or change cannot slip in between.
   */
  async require(
    clientId: string,
    type: AgentType,
    agentId: number,
    manager: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<Agent> {
    const agent = await this.repository.find(clientId, type, agentId, manager, lock);
    if (agent) return agent;
    throw await this.agentNotFound(clientId, type, agentId, manager);
  }

  /** 404 `client_not_found` when the client is not there either, else `agent_not_found`. */
  private async agentNotFound(clientId: string, type: AgentType, agentId: number, manager?: EntityManager): Promise<ApiError> {
    await this.clients.require(clientId, manager);
    return ApiError.notFound('agent_not_found', `There is no ${type} agent ${agentId} in client ${clientId}.`);
  }

  async update(clientId: string, type: AgentType, agentId: number, fields: AgentFields): Promise<AgentResponse> {
    const kind = AGENT_KINDS[type];
    let change: StatusChangeResult | undefined;
    await this.saveUnique(kind, fields, async () => {
      change = await this.status.change({
        clientId,
        agentType: type,
        agentId,
        name: fields[kind.nameField],
        status: fields.status,
        source: 'api',
      });
    });
    if (!change?.agent) throw await this.agentNotFound(clientId, type, agentId);
    return toAgentResponse(change.agent);
  }

  async remove(clientId: string, type: AgentType, agentId: number): Promise<void> {
    await transaction(this.dataSource, async (manager) => {
      const agent = await this.require(clientId, type, agentId, manager, true);
      await this.clientsRepository.lock(manager, clientId);
      // The agent events go with the agent, counted, so the client's count drops by exactly those rows.
      const events = await this.repository.delete(manager, agent.id);
      await this.clientsRepository.addAgentEvents(manager, clientId, -events);
      // Its webhooks still waiting for a receiver stop: a deleted agent's subscriptions are gone, like the agent.
      await this.deliveries.cancelPending(manager, { agentId: agent.id }, 'cancelled: the agent was deleted');
    });
  }

  /** A status change reported by the PBX for the agent with this extension or number (event_source=phone). */
  async changeStatusByPhone(
    clientId: string,
    identity: { extension_name?: string; agent_number?: string },
    agentStatus: AgentStatus,
  ): Promise<{ agent: AgentState; change: StatusChangeResult }> {
    const kind = identity.extension_name !== undefined ? AGENT_KINDS.local : AGENT_KINDS.remote;
    const name = identity[kind.nameField];
    // The name is looked up first; the change then locks the agent by primary key, the order every writer of agents
    // takes its locks in (a lock through the name's index first would deadlock with a delete or rename). A rename in
    // between is seen under the lock, and the name looked up again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.repository.findByName(clientId, kind, name);
      if (!found) break;
      const change = await this.status.change({
        clientId,
        agentType: kind.type,
        agentId: found.id,
        foundBy: name,
        status: agentStatus,
        source: 'phone',
      });
      if (!change.agent) continue;
      return { agent: change.agent, change };
    }
    await this.clients.require(clientId);
    throw ApiError.notFound('agent_not_found', `There is no ${kind.type} agent with ${kind.nameField} ${name} in client ${clientId}.`);
  }

  private async saveUnique(kind: AgentKind, fields: AgentFields, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new ApiError(
          HttpStatus.CONFLICT,
          'agent_exists',
          `An agent with ${kind.nameField} ${fields[kind.nameField]} already exists in this client.`,
        );
      }
      throw error;
    }
  }
}
