import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AgentState, AgentStatus, AgentType } from './agent-state.js';
import { callPrepared } from '../database/prepared.js';
import { retryDeadlocks } from '../database/transaction.js';
import type { EventSource } from './event-source.js';
import type { EventType } from './status-rules.js';

/** One change as the `change_agents` and `change_agent` procedures take it: what the events domain service decided. */
export interface ChangeToApply {
  client: string;
  type: AgentType;
  agent: number;
  found_by?: string;
  name?: string;
  status?: AgentStatus;
  /** The subscriptions that a real change fans out to: those of this event type. */
  event_type?: EventType;
  source: EventSource;
  /** `msg_` and 22 characters of a ULID: the change's delivery ids are this and four characters. */
  id_base: string;
}

/** A found agent as it is after the batch; `position` is its change's 0-based place in the batch. */
export interface AppliedAgentRow {
  position: number;
  id: number;
  clientId: string;
  agentType: AgentType;
  name: string | null;
  agentStatus: AgentStatus;
  statusSequence: number;
  changed: number;
}

/** One row of a client's status-change feed, as `feedPage` reads it. */
export interface FeedRow {
  feed_position: number | string;
  agent_id: number;
  agent_type: AgentType;
  agent_status: AgentStatus;
  event_source: EventSource;
  sequence: number;
  agent_name: string | null;
  changed_at: Date;
}

export interface FeedFilter {
  agentType?: AgentType;
  agentId?: number;
}

/** A delivery the batch wrote (an outbox row), with its change's place in the batch. */
export interface NewDeliveryRow {
  position: number;
  id: string;
  url: string;
}

/**
 * The status-change table family: `status_changes`, written together with the agents' new status and the
 * deliveries (the outbox) by the `change_agents` procedure (a batch) or the `change_agent` procedure (a change alone),
 * whose one current definitions are change_agents.sql and change_agent.sql beside this file, and each client's feed counter (`status_change_feed`); the feed's read; and the pruning of old
 * status changes.
 */
@Injectable()
export class StatusChangesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Changes of distinct agents in agent id order, in one transaction and one round trip: a `change_agents` call, or
   * for a change alone (the everyday case) a `change_agent` call, which does the same for one change at less cost. A
   * deadlock's victim is run again (it was rolled back whole).
   */
  async apply(changes: ChangeToApply[], changedAt: Date): Promise<{ agents: AppliedAgentRow[]; deliveries: NewDeliveryRow[] }> {
    const [agents, deliveries] = (await retryDeadlocks(() =>
      changes.length === 1 ? this.applyAlone(changes[0], changedAt) : this.applyBatch(changes, changedAt),
    )) as [AppliedAgentRow[], NewDeliveryRow[]];
    return { agents, deliveries };
  }

  /** `change_agents`: the batch as JSON (change_agents.sql). */
  applyBatch(changes: ChangeToApply[], changedAt: Date): Promise<unknown> {
    return this.dataSource.query('CALL change_agents(?, ?)', [JSON.stringify(changes), changedAt]);
  }

  /** `change_agent`: one change's fields as parameters (change_agent.sql). */
  applyAlone(change: ChangeToApply, changedAt: Date): Promise<unknown> {
    return callPrepared(this.dataSource, 'CALL change_agent(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      change.client,
      change.type,
      change.agent,
      change.found_by ?? null,
      change.name ?? null,
      change.status ?? null,
      change.event_type ?? null,
      change.source,
      change.id_base,
      changedAt,
    ]);
  }

  /**
   * In the caller's transaction, which holds the agent's row: the id of the status change the agent's current state
   * is, written from that state when there is none (an agent that never changed has sequence 0; an old change may have
   * been pruned) with no feed position, so it is not in the feed. The existing row is kept as it is, and locked.
   */
  async currentChangeId(manager: EntityManager, agent: AgentState, changedAt: Date): Promise<string> {
    // LAST_INSERT_ID(id) on the duplicate: the id of the row already there, in the same round trip.
    const result = (await manager.query(
      `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
       VALUES (?, ?, ?, ?, ?, 'api', ?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)`,
      [
        agent.clientId,
        agent.id,
        agent.agentType,
        agent.agentStatus,
        agent.agentStatus,
        agent.statusSequence,
        agent.agentType === 'local' ? agent.extensionName : agent.agentNumber,
        changedAt,
      ],
    )) as { insertId: number | string };
    return String(result.insertId);
  }

  /**
   * The client's status changes after feed position `after`, in feed (commit) order, at most `limit` and one more (so
   * the caller knows whether there is a next page). By (client_id, feed_position), or (agent_id, feed_position) for one
   * agent: a page costs the same at any history size.
   */
  async feedPage(clientId: string, after: number, limit: number, filter: FeedFilter): Promise<FeedRow[]> {
    const conditions = ['client_id = ?', 'feed_position > ?'];
    const params: unknown[] = [clientId, after];
    if (filter.agentType) {
      conditions.push('agent_type = ?');
      params.push(filter.agentType);
    }
    if (filter.agentId !== undefined) {
      conditions.push('agent_id = ?');
      params.push(filter.agentId);
    }
    return (await this.dataSource.query(
      `SELECT feed_position, agent_id, agent_type, agent_status, event_source, sequence, agent_name, changed_at
         FROM status_changes WHERE ${conditions.join(' AND ')} ORDER BY feed_position LIMIT ${Number(limit) + 1}`,
      params,
    )) as FeedRow[];
  }

  /** Removes those of these status changes that no delivery refers to any more; returns how many. */
  async deleteUnreferred(manager: EntityManager, ids: (string | number)[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = (await manager.query(
      `DELETE FROM status_changes
        WHERE id IN (?) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.status_change_id = status_changes.id)`,
      [ids],
    )) as { affectedRows?: number };
    return result.affectedRows ?? 0;
  }

  /** A page of the oldest status changes after `after`, by primary key: whether each is older than `cutoff` and has deliveries. */
  async oldestPage(
    manager: EntityManager,
    cutoff: Date,
    after: number,
    limit: number,
  ): Promise<{ id: string; old: boolean; referred: boolean }[]> {
    const rows = (await manager.query(
      `SELECT s.id, s.changed_at < ? AS old,
              EXISTS (SELECT 1 FROM deliveries d WHERE d.status_change_id = s.id) AS referred
         FROM status_changes s WHERE s.id > ? ORDER BY s.id LIMIT ${Number(limit)}`,
      [cutoff, after],
    )) as { id: string; old: number; referred: number }[];
    return rows.map((row) => ({ id: row.id, old: Number(row.old) === 1, referred: Number(row.referred) === 1 }));
  }
}
