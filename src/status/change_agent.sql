-- change_agent: the current definition (applied by the migrations, checked against the live database by
-- test/procedures.e2e-spec.ts). One agent's rename and/or status change, as the events domain service decided it: what
-- change_agents (change_agents.sql) does for a batch of one, with the change's fields as parameters instead of a JSON
-- batch, in one transaction and one round trip. A change alone is the everyday case (a quiet moment's status change, a
-- rename); here it costs MariaDB about 40 % less CPU than a batch of one through change_agents, which parses its batch
-- in every statement (bench/README.md). test/status-changes-repository.e2e-spec.ts holds the two to the same results.
--
-- - The agent is locked by primary key first. It is found when it has the client and type asked for and, for a change
--   from the phone (p_found_by, looked up by name), still has that name under the lock.
-- - A real change (a status asked for that differs from the agent's) takes the client's next feed position (the
--   counter counted up, or made at 1 for a client's first change, and locked by that to COMMIT, so a change numbered
--   after another commits after it; two first changes at once are 1 and 2), gets a status_changes row (sequence one more than the agent's, the
--   agent's name at that moment) and one deliveries row per subscription of p_event_type, with ids p_id_base and four
--   base-32 characters of the subscription's ordinal; then the agent takes its new name and status.
-- - Every statement that reads a table costs MariaDB about 0.1 ms of CPU inside the procedure, so the everyday change
--   reads as few as it can: the counter's new value comes back by LAST_INSERT_ID(expr), not a SELECT; a change with
--   one subscription (the usual case) reads it once into variables, inserts its delivery from them, and returns the
--   delivery from them too, without reading it back. With several, the ordinal is a count of the agent's
--   subscriptions before it in the index (no window function's temporary table). About 20 % less of MariaDB's CPU
--   per change than before (bench/README.md).
-- - READ COMMITTED, as change_agents.
-- - Every text parameter and variable compares as the tables' columns do (utf8mb4_bin): a name looked up by differs from
--   one that differs only in case, as in change_agents, whatever the database's default collation.
-- - The same two result sets as change_agents: the agent as it is after the change (none when it was not found), then
--   the new deliveries, in id order; `position` is 0.
CREATE PROCEDURE change_agent(IN p_client varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_type varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_agent int unsigned,
                              IN p_found_by varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_name varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
                              IN p_status varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_event_type varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
                              IN p_source varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_id_base varchar(26) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_changed_at datetime(3))
MODIFIES SQL DATA
BEGIN
  DECLARE base32 char(32) DEFAULT '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  DECLARE v_id int unsigned DEFAULT NULL;
  DECLARE v_status varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_sequence int unsigned;
  DECLARE v_name varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_found boolean DEFAULT FALSE;
  DECLARE v_changed boolean DEFAULT FALSE;
  DECLARE v_position bigint unsigned DEFAULT NULL;
  DECLARE v_change bigint unsigned;
  DECLARE v_count int unsigned DEFAULT 0;
  DECLARE v_event int unsigned;
  DECLARE v_url varchar(2048) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_method varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT id, agent_status, status_sequence, IF(agent_type = 'local', extension_name, agent_number)
    INTO v_id, v_status, v_sequence, v_name
    FROM agents WHERE id = p_agent AND client_id = p_client AND agent_type = p_type
     FOR UPDATE;
  SET v_found = v_id IS NOT NULL AND (p_found_by IS NULL OR v_name <=> p_found_by);
  SET v_changed = v_found AND p_status IS NOT NULL AND p_status <> v_status;

  IF v_changed THEN
    INSERT INTO status_change_feed (client_id, last_position) VALUES (p_client, LAST_INSERT_ID(1))
      ON DUPLICATE KEY UPDATE last_position = LAST_INSERT_ID(last_position + 1);
    SET v_position = LAST_INSERT_ID();
    INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at,
                                feed_position)
      VALUES (p_client, v_id, p_type, v_status, p_status, p_source, v_sequence + 1, COALESCE(p_name, v_name), p_changed_at, v_position);
    SET v_change = LAST_INSERT_ID();
    SELECT COUNT(*), MIN(e.id), MIN(e.url), MIN(e.method) INTO v_count, v_event, v_url, v_method
      FROM agent_events e WHERE e.agent_id = v_id AND e.event_type = p_event_type;
    IF v_count = 1 THEN
      INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, created_at, next_attempt_at)
        VALUES (CONCAT(p_id_base, '0000'), p_client, v_id, v_event, v_change, v_url, v_method, p_changed_at, p_changed_at);
    ELSEIF v_count > 1 THEN
      INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, created_at, next_attempt_at)
        SELECT CONCAT(p_id_base, SUBSTRING(base32, (x.n >> 15 & 31) + 1, 1), SUBSTRING(base32, (x.n >> 10 & 31) + 1, 1),
                      SUBSTRING(base32, (x.n >> 5 & 31) + 1, 1), SUBSTRING(base32, (x.n & 31) + 1, 1)),
               p_client, v_id, x.id, v_change, x.url, x.method, p_changed_at, p_changed_at
          FROM (SELECT e.id, e.url, e.method,
                       (SELECT COUNT(*) FROM agent_events o WHERE o.agent_id = v_id AND o.event_type = p_event_type AND o.id < e.id) AS n
                  FROM agent_events e WHERE e.agent_id = v_id AND e.event_type = p_event_type) x;
    END IF;
  END IF;
  IF v_changed OR (v_found AND p_name IS NOT NULL) THEN
    UPDATE agents
       SET extension_name = IF(p_name IS NOT NULL AND agent_type = 'local', p_name, extension_name),
           agent_number = IF(p_name IS NOT NULL AND agent_type = 'remote', p_name, agent_number),
           status_sequence = IF(v_changed, status_sequence + 1, status_sequence),
           agent_status = IF(v_changed, p_status, agent_status)
     WHERE id = v_id;
  END IF;

  SELECT 0 AS position, v_id AS id, p_client AS clientId, p_type AS agentType, COALESCE(p_name, v_name) AS name,
         IF(v_changed, p_status, v_status) AS agentStatus, IF(v_changed, v_sequence + 1, v_sequence) AS statusSequence,
         v_changed AS changed
    FROM DUAL WHERE v_found;
  -- The new deliveries: one is the variables' (none without a change: v_count is 0); several are read back.
  IF v_count > 1 THEN
    SELECT 0 AS position, d.id, d.url
      FROM deliveries d
     WHERE d.id BETWEEN CONCAT(p_id_base, '0000') AND CONCAT(p_id_base, 'ZZZZ')
     ORDER BY d.id;
  ELSE
    SELECT 0 AS position, CONCAT(p_id_base, '0000') AS id, v_url AS url FROM DUAL WHERE v_count = 1;
  END IF;
  COMMIT;
END
