import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Pruning finds old succeeded or dead deliveries by (state, created_at), and a status change's deliveries by its id. */
export class DeliveryRetentionIndexes1764320000000 implements MigrationInterface {
  name = 'DeliveryRetentionIndexes1764320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE deliveries ADD KEY idx_deliveries_state_created (state, created_at), ADD KEY idx_deliveries_status_change (status_change_id)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries DROP KEY idx_deliveries_state_created, DROP KEY idx_deliveries_status_change');
  }
}
