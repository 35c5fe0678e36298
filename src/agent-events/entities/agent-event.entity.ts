import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const EVENT_TYPES = ['agent-login', 'agent-logout'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const HTTP_METHODS = ['GET', 'POST'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A subscription: the spec's AgentEvent. */
@Entity('agent_events')
export class AgentEvent {
  @PrimaryGeneratedColumn({ type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ name: 'agent_id', type: 'int', unsigned: true })
  agentId!: number;

  @Column({ name: 'event_type', type: 'enum', enum: EVENT_TYPES })
  eventType!: EventType;

  @Column({ type: 'enum', enum: HTTP_METHODS })
  method!: HttpMethod;

  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
