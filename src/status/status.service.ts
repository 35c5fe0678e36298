import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Agent, AgentStatus } from '../agents/entities/agent.entity.js';
import { newMessageId } from '../common/message-id.js';
import { deliveryJobName, type DeliveryJob } from '../deliveries/delivery-job.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { agentEventPayload, eventTypeFor } from './agent-event-payload.js';
import type { EventSource } from './event-source.js';

export interface StatusChangeResult {
  changed: boolean;
  agentStatus: AgentStatus;
  /** Outbox rows written in the transaction: to be enqueued once it has committed. */
  deliveries: DeliveryJob[];
}

/**
 * The events domain service: decides whether an agent's status really changed and, only then, writes the
 * change and its outbox rows. Callers run it inside their transaction and enqueue `deliveries` after commit.
 */
@Injectable()
export class StatusService {
  constructor(private readonly metrics: MetricsService) {}

  /**
   * `agent` must be locked by the caller (`SELECT … FOR UPDATE` in the same transaction): concurrent identical
   * requests then queue on that lock, in this process or any other, and every one after the first finds the
   * status already set and writes nothing.
   */
  async changeIn(manager: EntityManager, agent: Agent, agentStatus: AgentStatus, eventSource: EventSource): Promise<StatusChangeResult> {
    if (agent.agentStatus === agentStatus) return { changed: false, agentStatus, deliveries: [] };
    const sequence = agent.statusSequence + 1;
    // The status condition stays as a guard: a caller that forgot the lock changes nothing rather than twice.
    const update = (await manager.query('UPDATE agents SET agent_status = ?, status_sequence = ? WHERE id = ? AND agent_status <> ?', [
      agentStatus,
      sequence,
      agent.id,
      agentStatus,
    ])) as { affectedRows: number };
    if (update.affectedRows !== 1) return { changed: false, agentStatus, deliveries: [] };
    // Counted as written; a transaction rolled back after this point (rare: a failed insert) still counts.
    this.metrics.statusChanged(eventSource);
    agent.agentStatus = agentStatus;
    agent.statusSequence = sequence;

    const changedAt = new Date();
    const insert = (await manager.query(
      `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, changed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        agent.clientId,
        agent.id,
        agent.agentType,
        agentStatus === 'available' ? 'logged_out' : 'available',
        agentStatus,
        eventSource,
        sequence,
        changedAt,
      ],
    )) as { insertId: number };
    const subscriptions = (await manager.query(
      'SELECT id, url, method FROM agent_events WHERE agent_id = ? AND event_type = ? ORDER BY id',
      [agent.id, eventTypeFor(agentStatus)],
    )) as { id: number; url: string; method: string }[];
    if (subscriptions.length === 0) return { changed: true, agentStatus, deliveries: [] };

    const payload = JSON.stringify(agentEventPayload(agent, agentStatus, eventSource));
    const deliveries = subscriptions.map((subscription) => [
      newMessageId(),
      agent.clientId,
      agent.id,
      subscription.id,
      insert.insertId,
      subscription.url,
      subscription.method,
      payload,
      changedAt,
      changedAt,
    ]);
    await manager.query(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, payload, created_at, next_attempt_at)
       VALUES ${deliveries.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      deliveries.flat(),
    );
    const eventType = eventTypeFor(agentStatus);
    const jobs = deliveries.map((delivery, index) => ({
      deliveryId: delivery[0] as string,
      name: deliveryJobName({
        clientId: agent.clientId,
        agentType: agent.agentType,
        agentId: agent.id,
        eventType,
        url: subscriptions[index].url,
      }),
    }));
    return { changed: true, agentStatus, deliveries: jobs };
  }
}
