import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * One at a time, the everyday case: `change_agent` (src/status/change_agent.sql) does what `change_agents` does for a
 * batch of one, and `record_attempt` (src/deliveries/record_attempt.sql) what `record_attempts` does for a batch of
 * one, each with the fields as parameters (no JSON to parse in every statement).
 */
export class ProceduresForOne1764430000000 implements MigrationInterface {
  name = 'ProceduresForOne1764430000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await replaceProcedure(queryRunner, 'change_agent', '4a1a74c74a7f033d738e90332bd9ed5ee0b40d99ecd71d9d1a6716f1e7d0291d');
    await replaceProcedure(queryRunner, 'record_attempt', '83c7683a53b517a96783f780d7f1b7b97539703da46cabdcf0cac361a8815e80');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE IF EXISTS record_attempt');
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agent');
  }
}
