import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * `record_attempt` (src/deliveries/record_attempt.sql) also answers whether the delivery's agent has a newer status
 * change, read under a shared lock on the agent: when it has none, no delivery of the agent waits for this one, and
 * the worker skips the wake-up's round trip to Redis.
 */
export class RecordAttemptNewerChange1764440000000 implements MigrationInterface {
  name = 'RecordAttemptNewerChange1764440000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await replaceProcedure(queryRunner, 'record_attempt', '25712d65ffd4ff3f4e2f47cb53bf4b33bad118c1e31c9ba201c0c40ec33782b7');
  }

  async down(): Promise<void> {
    // The definition before this one is applied by no migration any more (its file changed): nothing to go back to.
  }
}
