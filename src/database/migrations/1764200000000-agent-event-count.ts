import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Keeps each client's number of agent events on its row, so the limit check does not count them every time. */
export class AgentEventCount1764200000000 implements MigrationInterface {
  name = 'AgentEventCount1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clients ADD agent_event_count int unsigned NOT NULL DEFAULT 0 AFTER agent_event_limit');
    await queryRunner.query('UPDATE clients c SET agent_event_count = (SELECT COUNT(*) FROM agent_events e WHERE e.client_id = c.id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clients DROP COLUMN agent_event_count');
  }
}
