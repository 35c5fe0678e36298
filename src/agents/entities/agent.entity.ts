import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { AGENT_STATUSES, AGENT_TYPES, type AgentState, type AgentStatus, type AgentType } from '../../status/agent-state.js';

export { AGENT_STATUSES, AGENT_TYPES, type AgentStatus, type AgentType } from '../../status/agent-state.js';

@Entity('agents')
export class Agent implements AgentState {
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
