import { Injectable } from '@nestjs/common';
import { ulid } from 'ulid';
import type { EntityManager } from 'typeorm';
import { AgentEvent } from '../agent-events/entities/agent-event.entity.js';
import { Agent, type AgentStatus } from '../agents/entities/agent.entity.js';
import { Delivery } from '../deliveries/entities/delivery.entity.js';
import { agentEventPayload, eventTypeFor } from './agent-event-payload.js';
import { StatusChange, type EventSource } from './entities/status-change.entity.js';

export interface StatusChangeResult {
  changed: boolean;
  agentStatus: AgentStatus;
  /** Outbox rows written in the transaction: to be enqueued once it has committed. */
  deliveryIds: string[];
}

/**
 * The events domain service: decides whether an agent's status really changed and, only then, writes the
 * change and its outbox rows. Callers run it inside their transaction and enqueue `deliveryIds` after commit.
 */
@Injectable()
export class StatusService {
  async changeIn(manager: EntityManager, agent: Agent, agentStatus: AgentStatus, eventSource: EventSource): Promise<StatusChangeResult> {
    // The row lock taken by this conditional UPDATE makes concurrent identical requests queue up; every one
    // after the first sees the new status and matches no row, in this process or any other.
    const update = await manager
      .createQueryBuilder()
      .update(Agent)
      .set({ agentStatus, statusSequence: () => 'status_sequence + 1' })
      .where('id = :id AND agent_status <> :agentStatus', { id: agent.id, agentStatus })
      .execute();
    if (!update.affected) return { changed: false, agentStatus, deliveryIds: [] };

    const current = await manager.getRepository(Agent).findOneByOrFail({ id: agent.id });
    const changedAt = new Date();
    const insert = await manager
      .createQueryBuilder()
      .insert()
      .into(StatusChange)
      .values({
        clientId: current.clientId,
        agentId: current.id,
        agentType: current.agentType,
        oldStatus: agentStatus === 'available' ? 'logged_out' : 'available',
        agentStatus,
        eventSource,
        sequence: current.statusSequence,
        changedAt,
      })
      .updateEntity(false)
      .execute();
    const statusChangeId = String((insert.raw as { insertId: number }).insertId);
    const subscriptions = await manager
      .getRepository(AgentEvent)
      .find({ where: { agentId: current.id, eventType: eventTypeFor(agentStatus) }, order: { id: 'ASC' } });
    if (subscriptions.length === 0) return { changed: true, agentStatus, deliveryIds: [] };

    const payload = JSON.stringify(agentEventPayload(current, agentStatus, eventSource));
    const deliveries = subscriptions.map((subscription) => ({
      id: `msg_${ulid()}`,
      clientId: current.clientId,
      agentId: current.id,
      agentEventId: subscription.id,
      statusChangeId,
      url: subscription.url,
      method: subscription.method,
      payload,
      state: 'pending' as const,
      attempts: 0,
      createdAt: changedAt,
      nextAttemptAt: changedAt,
    }));
    // updateEntity(false): no read-back of column defaults, every value is given here.
    await manager.createQueryBuilder().insert().into(Delivery).values(deliveries).updateEntity(false).execute();
    return { changed: true, agentStatus, deliveryIds: deliveries.map((delivery) => delivery.id) };
  }
}
