import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A client's own request budget per hour; NULL means RATE_LIMIT_PER_HOUR. */
export class ClientRateLimit1764300000001 implements MigrationInterface {
  name = 'ClientRateLimit1764300000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clients ADD rate_limit_per_hour int unsigned NULL AFTER agent_event_count');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clients DROP COLUMN rate_limit_per_hour');
  }
}
