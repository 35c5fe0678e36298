import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('delivery_attempts')
export class DeliveryAttempt {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'delivery_id', type: 'varchar', length: 40 })
  deliveryId!: string;

  @Column({ name: 'attempt_number', type: 'int', unsigned: true })
  attemptNumber!: number;

  @Column({ name: 'started_at', type: 'datetime', precision: 3 })
  startedAt!: Date;

  @Column({ name: 'duration_ms', type: 'int', unsigned: true })
  durationMs!: number;

  @Column({ name: 'status_code', type: 'smallint', unsigned: true, nullable: true })
  statusCode!: number | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  error!: string | null;

  @Column({ name: 'response_snippet', type: 'text', nullable: true })
  responseSnippet!: string | null;
}
