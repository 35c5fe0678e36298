import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * Catch-up after an outage:
 * - the status-change feed: each client's status changes carry a position in commit order (`feed_position`, from the
 *   client's counter in `status_change_feed`, numbered by `change_agents`, src/status/change_agents.sql); existing
 *   rows are numbered in id order;
 * - state syncs: a delivery is a change's webhook or a sync of the agent's state (`kind`);
 * - bulk recovery: a recovery (`delivery_recoveries`) re-sends deliveries, which name it (`recovery_id`) so its
 *   progress can be read.
 */
export class CatchUp1764420000000 implements MigrationInterface {
  name = 'CatchUp1764420000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE status_changes ADD feed_position bigint unsigned NULL AFTER changed_at,
         ADD UNIQUE KEY uq_status_changes_client_feed (client_id, feed_position),
         ADD KEY idx_status_changes_agent_feed (agent_id, feed_position)`,
    );
    await queryRunner.query(
      `UPDATE status_changes s
         JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY client_id ORDER BY id) AS position FROM status_changes) n ON n.id = s.id
          SET s.feed_position = n.position`,
    );
    await queryRunner.query(`
      CREATE TABLE status_change_feed (
        client_id varchar(64) NOT NULL,
        last_position bigint unsigned NOT NULL,
        PRIMARY KEY (client_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(
      'INSERT INTO status_change_feed (client_id, last_position) SELECT client_id, MAX(feed_position) FROM status_changes GROUP BY client_id',
    );
    await queryRunner.query(
      `ALTER TABLE deliveries ADD kind enum('change','sync') NOT NULL DEFAULT 'change' AFTER method,
         ADD recovery_id varchar(40) NULL AFTER manual_retries,
         ADD KEY idx_deliveries_recovery (recovery_id, state)`,
    );
    await queryRunner.query(`
      CREATE TABLE delivery_recoveries (
        id varchar(40) NOT NULL,
        client_id varchar(64) NOT NULL,
        since datetime(3) NOT NULL,
        agent_event_id int unsigned NULL,
        state enum('dead') NOT NULL,
        matched int unsigned NOT NULL,
        queued int unsigned NOT NULL,
        created_at datetime(3) NOT NULL,
        PRIMARY KEY (id),
        KEY idx_delivery_recoveries_client (client_id, created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await replaceProcedure(queryRunner, 'change_agents', '66a3184862073801d11fc2b4ecfce73ffdca4ab07e1c32a85a3f21851189c12b');
  }

  /** The procedures stay as they are, as in the earlier migrations' down. */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE delivery_recoveries');
    await queryRunner.query('ALTER TABLE deliveries DROP KEY idx_deliveries_recovery, DROP COLUMN recovery_id, DROP COLUMN kind');
    await queryRunner.query('DROP TABLE status_change_feed');
    await queryRunner.query(
      'ALTER TABLE status_changes DROP KEY idx_status_changes_agent_feed, DROP KEY uq_status_changes_client_feed, DROP COLUMN feed_position',
    );
  }
}
