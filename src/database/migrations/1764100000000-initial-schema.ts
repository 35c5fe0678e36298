import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764100000000 implements MigrationInterface {
  name = 'InitialSchema1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE clients (
        id varchar(64) NOT NULL,
        name varchar(255) NOT NULL,
        agent_event_limit int unsigned NOT NULL,
        signing_secret varchar(64) NOT NULL,
        previous_signing_secret varchar(64) NULL,
        secret_rotated_at datetime(3) NULL,
        created_at datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(`
      CREATE TABLE agents (
        id int unsigned NOT NULL AUTO_INCREMENT,
        client_id varchar(64) NOT NULL,
        agent_type enum('local','remote') NOT NULL,
        extension_name varchar(255) NULL,
        agent_number varchar(32) NULL,
        agent_status enum('available','logged_out') NOT NULL DEFAULT 'logged_out',
        status_sequence int unsigned NOT NULL DEFAULT 0,
        created_at datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_agents_client_extension (client_id, extension_name),
        UNIQUE KEY uq_agents_client_number (client_id, agent_number),
        KEY idx_agents_client_type (client_id, agent_type, id),
        CONSTRAINT fk_agents_client FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(`
      CREATE TABLE agent_events (
        id int unsigned NOT NULL AUTO_INCREMENT,
        client_id varchar(64) NOT NULL,
        agent_id int unsigned NOT NULL,
        event_type enum('agent-login','agent-logout') NOT NULL,
        method enum('GET','POST') NOT NULL,
        url varchar(2048) NOT NULL,
        created_at datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY idx_agent_events_agent (agent_id, event_type),
        KEY idx_agent_events_client (client_id),
        CONSTRAINT fk_agent_events_agent FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    // History outlives agents and agent events: no foreign keys to them, so a pending delivery still goes out.
    await queryRunner.query(`
      CREATE TABLE status_changes (
        id bigint unsigned NOT NULL AUTO_INCREMENT,
        client_id varchar(64) NOT NULL,
        agent_id int unsigned NOT NULL,
        agent_type enum('local','remote') NOT NULL,
        old_status enum('available','logged_out') NOT NULL,
        agent_status enum('available','logged_out') NOT NULL,
        event_source enum('api','phone') NOT NULL,
        sequence int unsigned NOT NULL,
        changed_at datetime(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_status_changes_agent_sequence (agent_id, sequence)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(`
      CREATE TABLE deliveries (
        id varchar(40) NOT NULL,
        client_id varchar(64) NOT NULL,
        agent_id int unsigned NOT NULL,
        agent_event_id int unsigned NOT NULL,
        status_change_id bigint unsigned NOT NULL,
        url varchar(2048) NOT NULL,
        method enum('GET','POST') NOT NULL,
        payload text NOT NULL,
        state enum('pending','succeeded','dead') NOT NULL DEFAULT 'pending',
        attempts int unsigned NOT NULL DEFAULT 0,
        attempts_before_retry int unsigned NOT NULL DEFAULT 0,
        last_status_code smallint unsigned NULL,
        last_error varchar(512) NULL,
        next_attempt_at datetime(3) NULL,
        created_at datetime(3) NOT NULL,
        delivered_at datetime(3) NULL,
        PRIMARY KEY (id),
        KEY idx_deliveries_event (agent_event_id, created_at),
        KEY idx_deliveries_client_state (client_id, state, created_at),
        KEY idx_deliveries_client_created (client_id, created_at),
        KEY idx_deliveries_pending (state, next_attempt_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await queryRunner.query(`
      CREATE TABLE delivery_attempts (
        id bigint unsigned NOT NULL AUTO_INCREMENT,
        delivery_id varchar(40) NOT NULL,
        attempt_number int unsigned NOT NULL,
        started_at datetime(3) NOT NULL,
        duration_ms int unsigned NOT NULL,
        status_code smallint unsigned NULL,
        error varchar(512) NULL,
        response_snippet text NULL,
        PRIMARY KEY (id),
        KEY idx_delivery_attempts_delivery (delivery_id, attempt_number)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['delivery_attempts', 'deliveries', 'status_changes', 'agent_events', 'agents', 'clients']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
