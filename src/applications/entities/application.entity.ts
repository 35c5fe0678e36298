import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** OAuth2 client credentials of one client: the id is public, the secret is kept only as an argon2 hash. */
@Entity('applications')
export class Application {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ name: 'secret_hash', type: 'varchar', length: 255 })
  secretHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
