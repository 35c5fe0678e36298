import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `change_agents`: agents' renames and status changes, with each status change's history row and its outbox rows, in
 * one transaction and one round trip (one change was seven statements sent one by one). StatusService calls it with
 * the changes its concurrent requests asked for at the same moment, so they also share one commit.
 *
 * - The agent is locked by primary key first, the order every writer of agents takes its locks in. Concurrent
 *   identical changes queue on that lock; every one after the first finds the status already set and writes nothing.
 * - `p_found_by` (a change from the phone, looked up by name): the agent must still have that name under the lock.
 * - READ COMMITTED: the subscriptions read after the lock include agent events committed while it waited, and the
 *   read takes no gap locks on agent_events.
 * - Delivery ids: `p_id_base` (`msg_` and the first 22 characters of a ULID) and four base-32 characters of the
 *   subscription's ordinal, so one change's deliveries sort in subscription order and ids stay ULID-shaped.
 *   Four characters number 1,048,576 subscriptions, more than a client may have (1,000,000).
 * - The payload is the spec's AgentEventData in the spec's order, as compact JSON (as `agentEventPayload` and
 *   JSON.stringify make it for a test event), put together with JSON_QUOTE, which MySQL and MariaDB both have.
 * - Needs JSON_TABLE and window functions: MariaDB 10.6 or MySQL 8.0 and later.
 * - Result sets, two per change: the agent (none when it is not there, or no longer has the name it was found by),
 *   then the new deliveries (none when the status did not change).
 */

/** One change, inside the caller's transaction. */
const CREATE_ONE = `
CREATE PROCEDURE change_agent_in(
  IN p_client_id varchar(64), IN p_agent_type varchar(8), IN p_agent_id int unsigned, IN p_found_by varchar(255),
  IN p_new_name varchar(255), IN p_status varchar(16), IN p_source varchar(8), IN p_changed_at datetime(3),
  IN p_id_base varchar(26))
MODIFIES SQL DATA
BEGIN
  DECLARE v_found boolean DEFAULT TRUE;
  DECLARE v_name varchar(255);
  DECLARE v_status varchar(16);
  DECLARE v_sequence int unsigned;
  DECLARE v_change_id bigint unsigned DEFAULT NULL;
  DECLARE base32 char(32) DEFAULT '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_found = FALSE;

  SELECT IF(agent_type = 'local', extension_name, agent_number), agent_status, status_sequence
    INTO v_name, v_status, v_sequence
    FROM agents WHERE id = p_agent_id AND client_id = p_client_id AND agent_type = p_agent_type FOR UPDATE;
  IF v_found AND p_found_by IS NOT NULL AND NOT (v_name <=> p_found_by) THEN
    SET v_found = FALSE;
  END IF;

  IF v_found AND p_new_name IS NOT NULL AND NOT (v_name <=> p_new_name) THEN
    IF p_agent_type = 'local' THEN
      UPDATE agents SET extension_name = p_new_name WHERE id = p_agent_id;
    ELSE
      UPDATE agents SET agent_number = p_new_name WHERE id = p_agent_id;
    END IF;
    SET v_name = p_new_name;
  END IF;

  IF v_found AND p_status IS NOT NULL AND p_status <> v_status THEN
    SET v_sequence = v_sequence + 1;
    UPDATE agents SET agent_status = p_status, status_sequence = v_sequence WHERE id = p_agent_id;
    INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, changed_at)
      VALUES (p_client_id, p_agent_id, p_agent_type, v_status, p_status, p_source, v_sequence, p_changed_at);
    SET v_change_id = LAST_INSERT_ID();
    SET v_status = p_status;
    INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, payload, created_at, next_attempt_at)
      SELECT CONCAT(p_id_base, SUBSTRING(base32, (n >> 15 & 31) + 1, 1), SUBSTRING(base32, (n >> 10 & 31) + 1, 1),
                    SUBSTRING(base32, (n >> 5 & 31) + 1, 1), SUBSTRING(base32, (n & 31) + 1, 1)),
             p_client_id, p_agent_id, e.id, v_change_id, e.url, e.method,
             CONCAT('{"agent_status":', JSON_QUOTE(p_status), ',"agent_type":', JSON_QUOTE(p_agent_type),
                    ',"event_source":', JSON_QUOTE(p_source), ',"agent_id":', JSON_QUOTE(CAST(p_agent_id AS char)),
                    IF(p_agent_type = 'local', ',"extension_name":', ',"agent_number":'), JSON_QUOTE(COALESCE(v_name, '')), '}'),
             p_changed_at, p_changed_at
        FROM (SELECT id, url, method, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n
                FROM agent_events
               WHERE agent_id = p_agent_id AND event_type = IF(p_status = 'available', 'agent-login', 'agent-logout')) e;
  END IF;

  IF v_found THEN
    SELECT p_agent_id AS id, p_client_id AS clientId, p_agent_type AS agentType, v_name AS name, v_status AS agentStatus,
           v_sequence AS statusSequence, v_change_id IS NOT NULL AS changed;
  ELSE
    SELECT NULL AS id FROM DUAL WHERE FALSE;
  END IF;
  SELECT id, url FROM deliveries
   WHERE v_change_id IS NOT NULL AND id BETWEEN CONCAT(p_id_base, '0000') AND CONCAT(p_id_base, 'ZZZZ')
   ORDER BY id;
END`;

/**
 * A batch of changes, each `{client, type, agent, found_by?, name?, status?, source, id_base}`, in one transaction,
 * in the order given (callers sort by agent id: every batch then locks agents in the same order). JSON_TABLE reads
 * the batch once (a JSON_VALUE per field, which parses the text from the start each time, cost 10–15 % more
 * MariaDB CPU per change at batches of 8).
 */
const CREATE_BATCH = `
CREATE PROCEDURE change_agents(IN p_changes longtext, IN p_changed_at datetime(3))
MODIFIES SQL DATA
BEGIN
  DECLARE v_done boolean DEFAULT FALSE;
  DECLARE v_client varchar(64);
  DECLARE v_type varchar(8);
  DECLARE v_agent int unsigned;
  DECLARE v_found_by varchar(255);
  DECLARE v_name varchar(255);
  DECLARE v_status varchar(16);
  DECLARE v_source varchar(8);
  DECLARE v_id_base varchar(26);
  DECLARE changes CURSOR FOR
    SELECT client, type, agent, found_by, name, status, source, id_base
      FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             client varchar(64) PATH '$.client', type varchar(8) PATH '$.type', agent int unsigned PATH '$.agent',
             found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name', status varchar(16) PATH '$.status',
             source varchar(8) PATH '$.source', id_base varchar(26) PATH '$.id_base')) AS batch;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  OPEN changes;
  each_change: LOOP
    FETCH changes INTO v_client, v_type, v_agent, v_found_by, v_name, v_status, v_source, v_id_base;
    IF v_done THEN
      LEAVE each_change;
    END IF;
    CALL change_agent_in(v_client, v_type, v_agent, v_found_by, v_name, v_status, v_source, p_changed_at, v_id_base);
  END LOOP;
  CLOSE changes;
  COMMIT;
END`;

export class ChangeAgentProcedure1764340000000 implements MigrationInterface {
  name = 'ChangeAgentProcedure1764340000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(CREATE_ONE);
    await queryRunner.query(CREATE_BATCH);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP PROCEDURE change_agents');
    await queryRunner.query('DROP PROCEDURE change_agent_in');
  }
}
