import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AgentKind } from './agent-kind.js';
import { Agent, type AgentType } from './entities/agent.entity.js';

/** An agents row as the Agent entity's fields, for plain-SQL reads. */
export const AGENT_COLUMNS =
  'id, client_id AS clientId, agent_type AS agentType, extension_name AS extensionName, agent_number AS agentNumber, ' +
  'agent_status AS agentStatus, status_sequence AS statusSequence';

/**
 * Every statement on `agents`, and the one on an agent's subscriptions that deleting the agent needs (see
 * `delete`). Methods that take an `EntityManager` run in the caller's transaction.
 */
@Injectable()
export class AgentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** A new agent entity, not yet stored: `insert` stores it and sets its id. */
  create(values: Pick<Agent, 'clientId' | 'agentType' | 'agentStatus' | 'statusSequence'> & Partial<Agent>): Agent {
    return this.dataSource.getRepository(Agent).create(values);
  }

  /** Stores an agent made by `create` and sets its id; a name already taken fails with the driver's duplicate-key error. */
  async insert(manager: EntityManager, agent: Agent): Promise<void> {
    await manager.getRepository(Agent).insert(agent);
  }

  /** The client's agents of one type, by id. */
  async listForClient(clientId: string, type: AgentType): Promise<Agent[]> {
    return this.dataSource.getRepository(Agent).find({ where: { clientId, agentType: type }, order: { id: 'ASC' } });
  }

  /** The agent of this client and type, or undefined; `lock` (inside a transaction) holds its row. */
  async find(
    clientId: string,
    type: AgentType,
    agentId: number,
    manager: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<Agent | undefined> {
    // Plain SQL: this lookup is on every agent and agent-event request, and on the hot path of status changes.
    const [agent] = (await manager.query(
      `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ? AND client_id = ? AND agent_type = ?${lock ? ' FOR UPDATE' : ''}`,
      [agentId, clientId, type],
    )) as Agent[];
    return agent;
  }

  /** The id of the client's agent of this kind with this extension or number, or undefined; takes no lock. */
  async findByName(clientId: string, kind: AgentKind, name: string | undefined): Promise<{ id: number } | undefined> {
    const [found] = (await this.dataSource.query(`SELECT id FROM agents WHERE client_id = ? AND agent_type = ? AND ${kind.nameField} = ?`, [
      clientId,
      kind.type,
      name,
    ])) as { id: number }[];
    return found;
  }

  /**
   * Deletes the agent and its agent events, inside the caller's transaction (which holds the agent's and then the
   * client's row); answers how many agent events went, for the client's count.
   *
   * The agent events are the agent's own (their foreign key cascades from it), so deleting them is part of deleting
   * the agent, and the statement lives here rather than in AgentEventsRepository: agent-events/ imports agents/, so
   * agents/ cannot call it without a cycle, and turning the dependency around (a provider that agent-events hands to
   * agents) would need wiring in the app and worker modules for one statement.
   */
  async delete(manager: EntityManager, agentId: number): Promise<number> {
    // The agent's agent events are deleted by this statement rather than by the cascade, so the count goes
    // down by exactly the rows it removed (a concurrent delete of one of them either went first or waits).
    // Deliveries already committed still go out.
    const events = (await manager.query('DELETE FROM agent_events WHERE agent_id = ?', [agentId])) as { affectedRows: number };
    await manager.query('DELETE FROM agents WHERE id = ?', [agentId]);
    return events.affectedRows;
  }
}
