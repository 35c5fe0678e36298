import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Counts the manual retries of each delivery, so that an attempt in flight when one is asked for sees it and does
 * not overwrite it with its own outcome.
 */
export class DeliveryManualRetries1764330000000 implements MigrationInterface {
  name = 'DeliveryManualRetries1764330000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries ADD manual_retries int unsigned NOT NULL DEFAULT 0 AFTER attempts_before_retry');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries DROP COLUMN manual_retries');
  }
}
