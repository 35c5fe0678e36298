import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * One agent's webhooks to one URL go in the order of its changes: a delivery can be `superseded` by a newer one, and
 * the worker finds an agent's pending deliveries by (agent_id, state). `record_attempts` (src/deliveries/record_attempts.sql)
 * no longer brings a delivery that left pending during its attempt (dead by a deletion, superseded) back to pending.
 */
export class DeliveryOrder1764410000000 implements MigrationInterface {
  name = 'DeliveryOrder1764410000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE deliveries MODIFY state enum('pending','succeeded','dead','superseded') NOT NULL DEFAULT 'pending',
         ADD KEY idx_deliveries_agent_state (agent_id, state)`,
    );
    await replaceProcedure(queryRunner, 'record_attempts', '2b60b5102caff641da18b2d029b8e155038f389f2fcf82b4c319e53a5df9a9ad');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`UPDATE deliveries SET state = 'dead' WHERE state = 'superseded'`);
    await queryRunner.query(
      `ALTER TABLE deliveries MODIFY state enum('pending','succeeded','dead') NOT NULL DEFAULT 'pending',
         DROP KEY idx_deliveries_agent_state`,
    );
  }
}
