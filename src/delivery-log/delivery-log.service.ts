import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AgentEventsService } from '../agent-events/agent-events.service.js';
import type { AgentStatus, AgentType } from '../agents/entities/agent.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { maskUrlPassword } from '../common/url-credentials.js';
import { eventTypeFor } from '../status/agent-event-payload.js';
import { deliveryJobName } from '../delivery-queue/delivery-job.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import type { DeliveryAttemptViewDto, DeliveryDetailDto, DeliveryPageDto, DeliveryViewDto } from './dto/delivery.dto.js';
import type { DeliveryState } from '../deliveries/delivery-state.js';

interface DeliveryRow {
  id: string;
  agent_id: number;
  agent_event_id: number;
  url: string;
  method: string;
  payload: string;
  state: DeliveryState;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  held_reason: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
  agent_status: string;
  event_source: string;
  sequence: number;
  changed_at: Date;
}

const SELECT = `
  SELECT d.id, d.agent_id, d.agent_event_id, d.url, d.method, d.payload, d.state, d.attempts, d.last_status_code,
         d.last_error, d.held_reason, d.next_attempt_at, d.created_at, d.delivered_at,
         s.agent_status, s.event_source, s.sequence, s.changed_at
    FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id`;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function toView(row: DeliveryRow): DeliveryViewDto {
  return {
    id: row.id,
    agent_id: row.agent_id,
    agent_event_id: row.agent_event_id,
    url: maskUrlPassword(row.url),
    method: row.method,
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
    @InjectDataSource() private readonly dataSource: DataSource,
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
    return this.page('d.agent_event_id = ?', [eventId], page, perPage);
  }

  async listForClient(clientId: string, state: DeliveryState | undefined, page: number, perPage: number): Promise<DeliveryPageDto> {
    await this.clients.require(clientId);
    return state
      ? this.page('d.client_id = ? AND d.state = ?', [clientId, state], page, perPage)
      : this.page('d.client_id = ?', [clientId], page, perPage);
  }

  async get(clientId: string, deliveryId: string): Promise<DeliveryDetailDto> {
    const [row] = (await this.dataSource.query(`${SELECT} WHERE d.id = ? AND d.client_id = ?`, [deliveryId, clientId])) as DeliveryRow[];
    if (!row) {
      await this.clients.require(clientId);
      throw ApiError.notFound('delivery_not_found', `Client ${clientId} has no delivery ${deliveryId}.`);
    }
    const attempts = (await this.dataSource.query(
      `SELECT attempt_number, started_at, duration_ms, status_code, error, response_snippet
         FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt_number, id`,
      [deliveryId],
    )) as (Omit<DeliveryAttemptViewDto, 'started_at'> & { started_at: Date })[];
    return {
      ...toView(row),
      payload: JSON.parse(row.payload) as Record<string, string>,
      attempts: attempts.map((attempt) => ({ ...attempt, started_at: attempt.started_at.toISOString() })),
    };
  }

  /**
   * Sends the delivery again now, whatever its state, with the same webhook-id and a fresh retry schedule. The
   * count of manual retries tells an attempt in flight that it must not write its outcome over this one.
   */
  async retry(clientId: string, deliveryId: string): Promise<DeliveryDetailDto> {
    const retried = (await this.dataSource.query(
      `UPDATE deliveries SET state = 'pending', manual_retries = manual_retries + 1, attempts_before_retry = attempts, next_attempt_at = ?
        WHERE id = ? AND client_id = ?`,
      [new Date(), deliveryId, clientId],
    )) as { affectedRows: number };
    // No row: the answer is the 404 of `get`, naming what is missing.
    if (retried.affectedRows === 0) await this.get(clientId, deliveryId);
    const delivery = await this.get(clientId, deliveryId);
    const name = deliveryJobName({
      clientId,
      agentType: delivery.payload.agent_type,
      agentId: delivery.agent_id,
      eventType: eventTypeFor(delivery.status_change.agent_status as AgentStatus),
      url: delivery.url,
    });
    await this.queue.replace({ deliveryId, name });
    return this.get(clientId, deliveryId);
  }

  /** Newest first; `has_more` from one extra row rather than a count, so a page costs the same at any history size. */
  private async page(where: string, params: unknown[], page: number, perPage: number): Promise<DeliveryPageDto> {
    const rows = (await this.dataSource.query(`${SELECT} WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT ? OFFSET ?`, [
      ...params,
      perPage + 1,
      (page - 1) * perPage,
    ])) as DeliveryRow[];
    return { deliveries: rows.slice(0, perPage).map(toView), page, per_page: perPage, has_more: rows.length > perPage };
  }
}
