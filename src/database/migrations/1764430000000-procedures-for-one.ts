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
    await replaceProcedure(queryRunner, 'change_agent', 'fc8a8542e77ff31ce7fd79c9137811e4a126275037fc2b7468cfde3e8af74b28');
    await replaceProcedure(queryRunner, 'record_attempt', '0dc58595b0db4ce36886710b726ec2d766a45881a25bcf7e085a40bf7599d094');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE IF EXISTS record_attempt');
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agent');
  }
}
