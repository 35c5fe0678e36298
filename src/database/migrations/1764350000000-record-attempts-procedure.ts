import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Created the `record_attempts` procedure. Its current definition is src/deliveries/record_attempts.sql, put in
 * place by StatusChangeFacts1764400000000; this step now does nothing, so a new database never holds an older body.
 */
export class RecordAttemptsProcedure1764350000000 implements MigrationInterface {
  name = 'RecordAttemptsProcedure1764350000000';

  async up(): Promise<void> {}

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE IF EXISTS record_attempts');
  }
}
