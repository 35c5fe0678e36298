import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AgentEventsService } from '../agent-events/agent-events.service.js';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { newMessageId } from '../common/message-id.js';
import { transaction } from '../database/transaction.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { deliveryJob } from '../delivery-queue/delivery-job.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import { StatusChangesRepository } from '../status/status-changes.repository.js';
import { eventTypeFor } from '../status/status-rules.js';
import { DeliveryLogService } from './delivery-log.service.js';
import type { DeliveryDetailDto } from './dto/delivery.dto.js';

/**
 * A state sync: the agent's current state, sent to one agent event's URL as a delivery of kind `sync` — queued,
 * retried, logged and kept in the agent's order to that URL like any webhook, with the sequence of the status change
 * it reflects, so a receiver that already has a newer one drops it.
 */
@Injectable()
export class StateSyncService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agentEvents: AgentEventsService,
    private readonly statusChanges: StatusChangesRepository,
    private readonly deliveries: DeliveriesRepository,
    private readonly queue: DeliveryQueueService,
    private readonly log: DeliveryLogService,
  ) {}

  async sync(clientId: string, type: AgentType, agentId: number, eventId: number): Promise<DeliveryDetailDto> {
    const job = await transaction(this.dataSource, async (manager) => {
      // Under the agent's lock no status change comes in between: a change committed before is the state sent; one
      // after gets a higher sequence and its deliveries wait for this one.
      const { agent, event } = await this.agentEvents.requireLocked(manager, clientId, type, agentId, eventId);
      const now = new Date();
      const id = newMessageId();
      await this.deliveries.insertSync(manager, {
        id,
        clientId,
        agentId,
        agentEventId: event.id,
        statusChangeId: await this.statusChanges.currentChangeId(manager, agent, now),
        url: event.url,
        method: event.method,
        createdAt: now,
      });
      return deliveryJob(id, { clientId, agentType: type, agentId, eventType: eventTypeFor(agent.agentStatus), url: event.url });
    });
    await this.queue.enqueueAfterCommit([job]);
    return this.log.get(clientId, job.deliveryId);
  }
}
