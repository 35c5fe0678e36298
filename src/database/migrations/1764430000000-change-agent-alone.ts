import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * A change alone: the `change_agent` procedure (src/status/change_agent.sql), what `change_agents` does for a batch of
 * one, with the change's fields as parameters (no JSON to parse in every statement).
 */
export class ChangeAgentAlone1764430000000 implements MigrationInterface {
  name = 'ChangeAgentAlone1764430000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await replaceProcedure(queryRunner, 'change_agent', '4a1a74c74a7f033d738e90332bd9ed5ee0b40d99ecd71d9d1a6716f1e7d0291d');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agent');
  }
}
