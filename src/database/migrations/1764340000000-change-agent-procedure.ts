import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Created the first `change_agents` procedure. Its current definition is src/status/change_agents.sql, put in place
 * by StatusChangeFacts1764400000000; this step now does nothing, so a new database never holds an older body.
 */
export class ChangeAgentProcedure1764340000000 implements MigrationInterface {
  name = 'ChangeAgentProcedure1764340000000';

  async up(): Promise<void> {}

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agents');
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agent_in');
  }
}
