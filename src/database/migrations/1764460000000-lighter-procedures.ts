import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * The same results at less of MariaDB's CPU (bench/README.md): `change_agent` (src/status/change_agent.sql) reads its
 * feed position back with LAST_INSERT_ID(expr) and numbers the subscriptions by a count in the index instead of a
 * window function; `record_attempt` (src/deliveries/record_attempt.sql) reads the delivery's agent and change in one
 * statement and locks the delivery by its UPDATE alone.
 */
export class LighterProcedures1764460000000 implements MigrationInterface {
  name = 'LighterProcedures1764460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await replaceProcedure(queryRunner, 'change_agent', '7ed0b1bad13281056b2095a7bd85a09446e7383f7d403ae9703dda3b6ef19246');
    await replaceProcedure(queryRunner, 'record_attempt', '4bb45606b6a4af32f54190bc24f3cc112c11597238b502efb42d78c7052905ca');
  }

  async down(): Promise<void> {
    // The definitions before these are applied by no migration any more (their files changed): nothing to go back to.
  }
}
