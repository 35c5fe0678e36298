import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const AGENT_TYPES = ['local', 'remote'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];
export const AGENT_STATUSES = ['available', 'logged_out'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

@Entity('agents')
export class Agent {
  @PrimaryGeneratedColumn({ type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ name: 'agent_type', type: 'enum', enum: AGENT_TYPES })
  agentType!: AgentType;

  /** Local agents only: the full name of the extension, e.g. `000*094@ringme.ru`. */
  @Column({ name: 'extension_name', type: 'varchar', length: 255, nullable: true })
  extensionName!: string | null;

  /** Remote agents only: the external phone number. */
  @Column({ name: 'agent_number', type: 'varchar', length: 32, nullable: true })
  agentNumber!: string | null;

  @Column({ name: 'agent_status', type: 'enum', enum: AGENT_STATUSES, default: 'logged_out' })
  agentStatus!: AgentStatus;

  /** Sequence number of the agent's last status change; only grows. */
  @Column({ name: 'status_sequence', type: 'int', unsigned: true, default: 0 })
  statusSequence!: number;

  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
