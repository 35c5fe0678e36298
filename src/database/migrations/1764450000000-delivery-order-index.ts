import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-agent order's facts (the newest older pending delivery to the same URL, whether a newer one has gone out)
 * are read by (agent_id, state, status_change_id): an agent's status changes are numbered under its lock, so their
 * ids grow with its sequence, and the index passes over the agent's other deliveries without reading their rows
 * (`attempts` is in it for the newer ones never attempted).
 */
export class DeliveryOrderIndex1764450000000 implements MigrationInterface {
  name = 'DeliveryOrderIndex1764450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE deliveries ADD KEY idx_deliveries_agent_order (agent_id, state, status_change_id DESC, id DESC, attempts),
         DROP KEY idx_deliveries_agent_state`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE deliveries ADD KEY idx_deliveries_agent_state (agent_id, state), DROP KEY idx_deliveries_agent_order`,
    );
  }
}
