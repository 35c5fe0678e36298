import type { MigrationInterface } from 'typeorm';

/**
 * Replaced `change_agents` with a set-based body. Its current definition is src/status/change_agents.sql, put in
 * place by StatusChangeFacts1764400000000; this step now does nothing.
 */
export class ChangeAgentsSetBased1764360000000 implements MigrationInterface {
  name = 'ChangeAgentsSetBased1764360000000';

  async up(): Promise<void> {}

  async down(): Promise<void> {}
}
