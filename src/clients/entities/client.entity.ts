import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('clients')
export class Client {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ name: 'agent_event_limit', type: 'int', unsigned: true })
  agentEventLimit!: number;

  /** How many agent events the client has: kept in step by every create and delete, in their transaction. */
  @Column({ name: 'agent_event_count', type: 'int', unsigned: true, default: 0 })
  agentEventCount!: number;

  /** Requests per hour the client's tokens may make; null: RATE_LIMIT_PER_HOUR. */
  @Column({ name: 'rate_limit_per_hour', type: 'int', unsigned: true, nullable: true })
  rateLimitPerHour!: number | null;

  @Column({ name: 'signing_secret', type: 'varchar', length: 64 })
  signingSecret!: string;

  /** Still signs until `secretRotatedAt` + the overlap, so receivers can switch without losing events. */
  @Column({ name: 'previous_signing_secret', type: 'varchar', length: 64, nullable: true })
  previousSigningSecret!: string | null;

  @Column({ name: 'secret_rotated_at', type: 'datetime', precision: 3, nullable: true })
  secretRotatedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
