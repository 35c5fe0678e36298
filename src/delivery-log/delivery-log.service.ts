import { Injectable } from '@nestjs/common';
import { AgentEventsService } from '../agent-events/agent-events.service.js';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { maskUrlPassword } from '../common/url-credentials.js';
import { changeFacts, DeliveriesRepository, type DeliveryLogRow } from '../deliveries/deliveries.repository.js';
import type { DeliveryState } from '../deliveries/delivery-state.js';
import { deliveryJob } from '../delivery-queue/delivery-job.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import { agentEventPayload, eventTypeFor } from '../status/status-rules.js';
import type { DeliveryDetailDto, DeliveryPageDto, DeliveryViewDto } from './dto/delivery.dto.js';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function toView(row: DeliveryLogRow): DeliveryViewDto {
  return {
    id: row.id,
    agent_id: row.agent_id,
    agent_event_id: row.agent_event_id,
    url: maskUrlPassword(row.url),
    method: row.method,
    kind: row.kind,
    status_change: {
      agent_status: row.agent_status,
      event_source: row.event_source,
      sequence: row.sequence,
      changed_at: row.changed_at.toISOString(),
    },
    state: row.state,
    attempt_count: row.attempts,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    held_reason: row.state === 'pending' ? row.held_reason : null,
    next_attempt_at: row.state === 'pending' ? iso(row.next_attempt_at) : null,
    created_at: row.created_at.toISOString(),
    delivered_at: iso(row.delivered_at),
  };
}

/** The delivery log users read, and the manual retry. */
@Injectable()
export class DeliveryLogService {
  constructor(
    private readonly deliveries: DeliveriesRepository,
    private readonly clients: ClientsService,
    private readonly agentEvents: AgentEventsService,
    private readonly queue: DeliveryQueueService,
  ) {}

  async listForEvent(
    clientId: string,
    type: AgentType,
    agentId: number,
    eventId: number,
    page: number,
    perPage: number,
  ): Promise<DeliveryPageDto> {
    await this.agentEvents.require(clientId, type, agentId, eventId);
    return this.page(await this.deliveries.logPage({ agentEventId: eventId }, page, perPage), page, perPage);
  }

  async listForClient(clientId: string, state: DeliveryState | undefined, page: number, perPage: number): Promise<DeliveryPageDto> {
    await this.clients.require(clientId);
    return this.page(await this.deliveries.logPage({ clientId, state }, page, perPage), page, perPage);
  }

  async get(clientId: string, deliveryId: string): Promise<DeliveryDetailDto> {
    const row = await this.deliveries.logGet(clientId, deliveryId);
    if (!row) {
      await this.clients.require(clientId);
      throw ApiError.notFound('delivery_not_found', `Client ${clientId} has no delivery ${deliveryId}.`);
    }
    const attempts = await this.deliveries.attempts(deliveryId);
    return {
      ...toView(row),
      payload: agentEventPayload(changeFacts(row)),
      attempts: attempts.map((attempt) => ({ ...attempt, started_at: attempt.started_at.toISOString() })),
    };
  }

  /**
   * Sends the delivery again now, whatever its state, with the same webhook-id and a fresh retry schedule. The
   * count of manual retries tells an attempt in flight that it must not write its outcome over this one.
   */
  async retry(clientId: string, deliveryId: string): Promise<DeliveryDetailDto> {
    // No row: the answer is the 404 of `get`, naming what is missing.
    if (!(await this.deliveries.markRetried(clientId, deliveryId))) await this.get(clientId, deliveryId);
    const delivery = await this.get(clientId, deliveryId);
    await this.queue.replace(
      deliveryJob(deliveryId, {
        clientId,
        agentType: delivery.payload.agent_type,
        agentId: delivery.agent_id,
        eventType: eventTypeFor(delivery.status_change.agent_status as DeliveryLogRow['agent_status']),
        url: delivery.url,
      }),
    );
    return this.get(clientId, deliveryId);
  }

  /** Newest first; `has_more` from the one extra row the repository reads. */
  private page(rows: DeliveryLogRow[], page: number, perPage: number): DeliveryPageDto {
    return { deliveries: rows.slice(0, perPage).map(toView), page, per_page: perPage, has_more: rows.length > perPage };
  }
}
