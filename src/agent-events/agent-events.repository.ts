import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { AgentEvent, type EventType, type HttpMethod } from './entities/agent-event.entity.js';

/** An agent_events row as the API shows it (url not yet masked). */
export interface AgentEventRow {
  url: string;
  method: HttpMethod;
  event_type: EventType;
  id: number;
}

const CHANGEABLE_COLUMNS = ['url', 'event_type', 'method'] as const;

/** The columns a PUT may change, by column name. */
export type AgentEventChanges = Partial<Pick<AgentEventRow, (typeof CHANGEABLE_COLUMNS)[number]>>;

/**
 * Every statement on `agent_events` but one: deleting an agent deletes its agent events in AgentsRepository.delete
 * (agents/ cannot import this file). Methods that take an `EntityManager` run in the caller's transaction.
 */
@Injectable()
export class AgentEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Stores a new agent event and answers it with its id. */
  async insert(
    manager: EntityManager,
    values: Pick<AgentEvent, 'clientId' | 'agentId' | 'url' | 'eventType' | 'method'>,
  ): Promise<AgentEvent> {
    const event = manager.getRepository(AgentEvent).create(values);
    await manager.getRepository(AgentEvent).insert(event);
    return event;
  }

  /**
   * The agent's agent events by id, or null when there is no such agent of this client and type; an agent without
   * agent events answers an empty list.
   */
  async listForAgent(clientId: string, type: AgentType, agentId: number): Promise<AgentEventRow[] | null> {
    // One round trip: the agent (for its 404) and its events.
    const rows = (await this.dataSource.query(
      `SELECT e.url, e.method, e.event_type, e.id
         FROM agents a LEFT JOIN agent_events e ON e.agent_id = a.id
        WHERE a.id = ? AND a.client_id = ? AND a.agent_type = ?
        ORDER BY e.id`,
      [agentId, clientId, type],
    )) as (Omit<AgentEventRow, 'id'> & { id: number | null })[];
    if (rows.length === 0) return null;
    return rows.filter((row): row is AgentEventRow => row.id !== null);
  }

  /** The agent's agent event, its row locked until the transaction ends; undefined when the agent has no such event. */
  async findForUpdate(manager: EntityManager, agentId: number, eventId: number): Promise<AgentEventRow | undefined> {
    const [event] = (await manager.query('SELECT url, method, event_type, id FROM agent_events WHERE id = ? AND agent_id = ? FOR UPDATE', [
      eventId,
      agentId,
    ])) as AgentEventRow[];
    return event;
  }

  /** The client's agent event of this agent, or null. */
  async find(
    clientId: string,
    agentId: number,
    eventId: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<AgentEvent | null> {
    return manager.getRepository(AgentEvent).findOneBy({ id: eventId, agentId, clientId });
  }

  /** Writes the given columns of the agent event; none given, no statement. */
  async update(manager: EntityManager, eventId: number, changes: AgentEventChanges): Promise<void> {
    // Column names only from this list, never from the caller's keys.
    const columns = CHANGEABLE_COLUMNS.filter((column) => changes[column] !== undefined);
    if (columns.length) {
      await manager.query(`UPDATE agent_events SET ${columns.map((column) => `${column} = ?`).join(', ')} WHERE id = ?`, [
        ...columns.map((column) => changes[column]),
        eventId,
      ]);
    }
  }

  /** Deletes the agent's agent event; answers how many rows went (0 or 1). */
  async delete(manager: EntityManager, agentId: number, eventId: number): Promise<number> {
    const deleted = (await manager.query('DELETE FROM agent_events WHERE id = ? AND agent_id = ?', [eventId, agentId])) as {
      affectedRows: number;
    };
    return deleted.affectedRows;
  }
}
