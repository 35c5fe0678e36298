import type { MigrationInterface, QueryRunner } from 'typeorm';
import { replaceProcedure } from '../procedures.js';

/**
 * A delivery row holds facts, not a payload: its status change (which now records the agent's name at that moment,
 * `agent_name`) and its subscription. The payload is built from them when the webhook is sent, by the one payload
 * builder (src/status/status-rules.ts). Existing rows keep the name their frozen payload had. Then the current
 * definitions of the procedures (src/status/change_agents.sql, src/deliveries/record_attempts.sql) are put in place.
 */
export class StatusChangeFacts1764400000000 implements MigrationInterface {
  name = 'StatusChangeFacts1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE status_changes ADD agent_name varchar(255) NULL AFTER sequence');
    await queryRunner.query(
      `UPDATE status_changes s JOIN deliveries d ON d.status_change_id = s.id
          SET s.agent_name = COALESCE(JSON_VALUE(d.payload, '$.extension_name'), JSON_VALUE(d.payload, '$.agent_number'))`,
    );
    await queryRunner.query(
      `UPDATE status_changes s JOIN agents a ON a.id = s.agent_id
          SET s.agent_name = IF(a.agent_type = 'local', a.extension_name, a.agent_number)
        WHERE s.agent_name IS NULL`,
    );
    await queryRunner.query('ALTER TABLE deliveries DROP COLUMN payload');
    await queryRunner.query('DROP PROCEDURE IF EXISTS change_agent_in');
    await replaceProcedure(queryRunner, 'change_agents', '2adba634dcd323e9fe5d00275d5ef3166628976c378b3967a440a984f5375342');
    await replaceProcedure(queryRunner, 'record_attempts', '4e7a8acdffc1116c290a1395073412b11d1cff33abdfa1fc964e22e35039e975');
  }

  /** Gives the deliveries their payload column back, filled from the facts; the procedures stay as they are. */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries ADD payload text NULL AFTER method');
    await queryRunner.query(
      `UPDATE deliveries d JOIN status_changes s ON s.id = d.status_change_id
          SET d.payload = CONCAT('{"agent_status":', JSON_QUOTE(s.agent_status), ',"agent_type":', JSON_QUOTE(s.agent_type),
                                 ',"event_source":', JSON_QUOTE(s.event_source), ',"agent_id":', JSON_QUOTE(CAST(s.agent_id AS char)),
                                 IF(s.agent_type = 'local', ',"extension_name":', ',"agent_number":'),
                                 JSON_QUOTE(COALESCE(s.agent_name, '')), '}')`,
    );
    await queryRunner.query('ALTER TABLE status_changes DROP COLUMN agent_name');
  }
}
