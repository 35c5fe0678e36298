import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { AgentStatus, AgentType } from '../../agents/entities/agent.entity.js';

export const EVENT_SOURCES = ['api', 'phone'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/** One real change of an agent's status; written only when the status actually changed. */
@Entity('status_changes')
export class StatusChange {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ name: 'agent_id', type: 'int', unsigned: true })
  agentId!: number;

  @Column({ name: 'agent_type', type: 'enum', enum: ['local', 'remote'] })
  agentType!: AgentType;

  @Column({ name: 'old_status', type: 'enum', enum: ['available', 'logged_out'] })
  oldStatus!: AgentStatus;

  @Column({ name: 'agent_status', type: 'enum', enum: ['available', 'logged_out'] })
  agentStatus!: AgentStatus;

  @Column({ name: 'event_source', type: 'enum', enum: EVENT_SOURCES })
  eventSource!: EventSource;

  @Column({ type: 'int', unsigned: true })
  sequence!: number;

  @Column({ name: 'changed_at', type: 'datetime', precision: 3 })
  changedAt!: Date;
}
