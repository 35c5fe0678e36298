import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { HttpMethod } from '../../agent-events/entities/agent-event.entity.js';

export const DELIVERY_STATES = ['pending', 'succeeded', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** The outbox: one row per status change and matching agent event, with the request frozen as it is sent. */
@Entity('deliveries')
export class Delivery {
  /** Also the BullMQ job id and the `webhook-id` header: the same on every attempt. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ name: 'agent_id', type: 'int', unsigned: true })
  agentId!: number;

  @Column({ name: 'agent_event_id', type: 'int', unsigned: true })
  agentEventId!: number;

  @Column({ name: 'status_change_id', type: 'bigint', unsigned: true })
  statusChangeId!: string;

  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @Column({ type: 'enum', enum: ['GET', 'POST'] })
  method!: HttpMethod;

  /** JSON text (not a JSON column) so that the spec's field order is kept byte for byte. */
  @Column({ type: 'text' })
  payload!: string;

  @Column({ type: 'enum', enum: DELIVERY_STATES, default: 'pending' })
  state!: DeliveryState;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts!: number;

  /** Attempts made before the last manual retry: the retry schedule counts from here. */
  @Column({ name: 'attempts_before_retry', type: 'int', unsigned: true, default: 0 })
  attemptsBeforeRetry!: number;

  @Column({ name: 'last_status_code', type: 'smallint', unsigned: true, nullable: true })
  lastStatusCode!: number | null;

  @Column({ name: 'last_error', type: 'varchar', length: 512, nullable: true })
  lastError!: string | null;

  @Column({ name: 'next_attempt_at', type: 'datetime', precision: 3, nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'delivered_at', type: 'datetime', precision: 3, nullable: true })
  deliveredAt!: Date | null;
}
