import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * The same results at less of MariaDB's CPU (bench/README.md): `change_agent` (src/status/change_agent.sql) reads its
 * feed position back with LAST_INSERT_ID(expr) and numbers the subscriptions by a count in the index instead of a
 * window function, and returns a lone delivery from its variables; `record_attempt` (src/deliveries/record_attempt.sql)
 * takes the delivery's agent and change sequence from the caller and answers an everyday attempt without reading the
 * delivery back.
 */
export class LighterProcedures1764460000000 implements MigrationInterface {
  name = 'LighterProcedures1764460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await replaceProcedure(queryRunner, 'change_agent', '7ed0b1bad13281056b2095a7bd85a09446e7383f7d403ae9703dda3b6ef19246');
    await replaceProcedure(queryRunner, 'record_attempt', 'bd3803d2fec6cf590bc926d183524685da6dc002d7c3d1a1970a28fa27f7931f');
  }

  async down(): Promise<void> {
    // The definitions before these are applied by no migration any more (their files changed): nothing to go back to.
  }
}
