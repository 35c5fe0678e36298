-- change_agents: the current definition (applied by the migrations, checked against the live database by
-- test/procedures.e2e-spec.ts). It applies, for a batch of agents' renames and status changes, what the events
-- domain service (status.service.ts, status-rules.ts) decided, in one transaction and one round trip.
--
-- p_changes: a JSON array of {client, type, agent, found_by?, name?, status?, event_type?, source, id_base}, in
-- agent id order, each agent at most once (planRounds).
-- - The agents are locked by primary key, in that order, first. Concurrent identical changes queue on that lock;
--   every one after the first finds the status already set and writes nothing.
-- - An agent is found when it has the client and type asked for and, for a change from the phone (found_by, looked
--   up by name), still has that name under the lock.
-- - A real change (isRealChange: a status asked for that differs from the agent's) gets a status_changes row
--   (sequence one more than the agent's, the agent's name at that moment) and one deliveries row per subscription
--   of the change's event_type (subscriptionsFor); then the agents take their new names and statuses.
-- - READ COMMITTED: the subscriptions read after the lock include agent events committed while it waited, and the
--   read takes no gap locks on agent_events.
-- - Delivery ids: id_base (`msg_` and the first 22 characters of a ULID) and four base-32 characters of the
--   subscription's ordinal, so one change's deliveries sort in subscription order and ids stay ULID-shaped.
-- - A delivery row holds facts (its status change and subscription); the payload is built from them when sent.
-- - Each client's real changes take the next positions of its feed (status_change_feed), in commit order.
-- - Two result sets: the found agents as they are after the batch (`position` is the change's 0-based place in
--   the batch; a change whose agent was not found has no row), then the new deliveries with their change's
--   position, in id order.
-- - Needs JSON_TABLE and window functions: MariaDB 10.6 or MySQL 8.0 and later.
CREATE PROCEDURE change_agents(IN p_changes longtext, IN p_changed_at datetime(3))
MODIFIES SQL DATA
BEGIN
  DECLARE v_first_change bigint unsigned DEFAULT NULL;
  DECLARE v_locked int;
  DECLARE base32 char(32) DEFAULT '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  DECLARE v_done boolean DEFAULT FALSE;
  DECLARE v_agent int unsigned;
  DECLARE v_name varchar(255);
  DECLARE v_status varchar(16);
  -- Read when opened, after the status changes are written and before any agent is updated. One single-table UPDATE
  -- per agent: a multi-table UPDATE that fails (a rename to a taken name) can skip the exit handler in MariaDB and
  -- leave the transaction open on the connection.
  DECLARE updates CURSOR FOR
    SELECT a.id, b.name, IF(b.status IS NOT NULL AND b.status <> a.agent_status, b.status, NULL)
      FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             client varchar(64) PATH '$.client', type varchar(8) PATH '$.type', agent int unsigned PATH '$.agent',
             found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name',
             status varchar(16) PATH '$.status')) AS b
      STRAIGHT_JOIN agents a
        ON a.id = b.agent AND a.client_id = b.client AND a.agent_type = b.type
       AND (b.found_by IS NULL OR IF(a.agent_type = 'local', a.extension_name, a.agent_number) <=> b.found_by)
     WHERE b.name IS NOT NULL OR (b.status IS NOT NULL AND b.status <> a.agent_status);
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT COUNT(*) INTO v_locked
    FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (agent int unsigned PATH '$.agent')) AS b
    STRAIGHT_JOIN agents a ON a.id = b.agent
     FOR UPDATE;

  -- The batch's found agents as they are after it (STRAIGHT_JOIN: the batch drives, so agents are read by primary
  -- key in its order).
  SELECT b.position - 1 AS position, a.id, a.client_id AS clientId, a.agent_type AS agentType,
         COALESCE(b.name, IF(a.agent_type = 'local', a.extension_name, a.agent_number)) AS name,
         IF(b.status IS NOT NULL AND b.status <> a.agent_status, b.status, a.agent_status) AS agentStatus,
         IF(b.status IS NOT NULL AND b.status <> a.agent_status, a.status_sequence + 1, a.status_sequence) AS statusSequence,
         b.status IS NOT NULL AND b.status <> a.agent_status AS changed
    FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             position FOR ORDINALITY, client varchar(64) PATH '$.client', type varchar(8) PATH '$.type',
             agent int unsigned PATH '$.agent', found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name',
             status varchar(16) PATH '$.status', event_type varchar(16) PATH '$.event_type',
             source varchar(8) PATH '$.source', id_base varchar(26) PATH '$.id_base')) AS b
      STRAIGHT_JOIN agents a
        ON a.id = b.agent AND a.client_id = b.client AND a.agent_type = b.type
       AND (b.found_by IS NULL OR IF(a.agent_type = 'local', a.extension_name, a.agent_number) <=> b.found_by);

  -- The feed: each client's real changes take the next positions of its counter (status_change_feed), which stays
  -- locked to COMMIT, so a batch numbered after another commits after it: a reader never sees a position before every
  -- smaller one is visible. The existing counters are locked for update first, in client id order (an upsert alone
  -- would take a shared lock and then upgrade it, and two batches of one client holding the shared lock deadlock).
  SELECT COUNT(*) INTO v_locked FROM status_change_feed f
   WHERE f.client_id IN (SELECT b.client FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (client varchar(64) PATH '$.client')) AS b)
   ORDER BY f.client_id
     FOR UPDATE;
  INSERT INTO status_change_feed (client_id, last_position)
    SELECT a.client_id, COUNT(*)
      FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             position FOR ORDINALITY, client varchar(64) PATH '$.client', type varchar(8) PATH '$.type',
             agent int unsigned PATH '$.agent', found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name',
             status varchar(16) PATH '$.status', event_type varchar(16) PATH '$.event_type',
             source varchar(8) PATH '$.source', id_base varchar(26) PATH '$.id_base')) AS b
      STRAIGHT_JOIN agents a
        ON a.id = b.agent AND a.client_id = b.client AND a.agent_type = b.type
       AND (b.found_by IS NULL OR IF(a.agent_type = 'local', a.extension_name, a.agent_number) <=> b.found_by)
     WHERE b.status IS NOT NULL AND b.status <> a.agent_status
     GROUP BY a.client_id ORDER BY a.client_id
  ON DUPLICATE KEY UPDATE last_position = last_position + VALUES(last_position);

  INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at,
                              feed_position)
    SELECT a.client_id, a.id, a.agent_type, a.agent_status, b.status, b.source, a.status_sequence + 1,
           COALESCE(b.name, IF(a.agent_type = 'local', a.extension_name, a.agent_number)), p_changed_at,
           f.last_position - COUNT(*) OVER (PARTITION BY a.client_id) + ROW_NUMBER() OVER (PARTITION BY a.client_id ORDER BY b.position)
      FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             position FOR ORDINALITY, client varchar(64) PATH '$.client', type varchar(8) PATH '$.type',
             agent int unsigned PATH '$.agent', found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name',
             status varchar(16) PATH '$.status', event_type varchar(16) PATH '$.event_type',
             source varchar(8) PATH '$.source', id_base varchar(26) PATH '$.id_base')) AS b
      STRAIGHT_JOIN agents a
        ON a.id = b.agent AND a.client_id = b.client AND a.agent_type = b.type
       AND (b.found_by IS NULL OR IF(a.agent_type = 'local', a.extension_name, a.agent_number) <=> b.found_by)
      JOIN status_change_feed f ON f.client_id = a.client_id
     WHERE b.status IS NOT NULL AND b.status <> a.agent_status;
  IF ROW_COUNT() > 0 THEN
    SET v_first_change = LAST_INSERT_ID();
    INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, created_at, next_attempt_at)
      SELECT CONCAT(x.id_base, SUBSTRING(base32, (x.n >> 15 & 31) + 1, 1), SUBSTRING(base32, (x.n >> 10 & 31) + 1, 1),
                    SUBSTRING(base32, (x.n >> 5 & 31) + 1, 1), SUBSTRING(base32, (x.n & 31) + 1, 1)),
             x.client_id, x.agent_id, x.event_id, x.change_id, x.url, x.method, p_changed_at, p_changed_at
        FROM (SELECT b.id_base, a.client_id, a.id AS agent_id, s.id AS change_id, e.id AS event_id, e.url, e.method,
                     ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY e.id) - 1 AS n
                FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (
             position FOR ORDINALITY, client varchar(64) PATH '$.client', type varchar(8) PATH '$.type',
             agent int unsigned PATH '$.agent', found_by varchar(255) PATH '$.found_by', name varchar(255) PATH '$.name',
             status varchar(16) PATH '$.status', event_type varchar(16) PATH '$.event_type',
             source varchar(8) PATH '$.source', id_base varchar(26) PATH '$.id_base')) AS b
      STRAIGHT_JOIN agents a
        ON a.id = b.agent AND a.client_id = b.client AND a.agent_type = b.type
       AND (b.found_by IS NULL OR IF(a.agent_type = 'local', a.extension_name, a.agent_number) <=> b.found_by)
                -- this batch's change of the agent (its sequence is the agent's next one until the agents are updated)
                JOIN status_changes s ON s.agent_id = a.id AND s.sequence = a.status_sequence + 1 AND s.id >= v_first_change
                JOIN agent_events e ON e.agent_id = a.id AND e.event_type = b.event_type) x;
  END IF;

  OPEN updates;
  each_update: LOOP
    FETCH updates INTO v_agent, v_name, v_status;
    IF v_done THEN
      LEAVE each_update;
    END IF;
    UPDATE agents
       SET extension_name = IF(v_name IS NOT NULL AND agent_type = 'local', v_name, extension_name),
           agent_number = IF(v_name IS NOT NULL AND agent_type = 'remote', v_name, agent_number),
           status_sequence = IF(v_status IS NULL, status_sequence, status_sequence + 1),
           agent_status = IF(v_status IS NULL, agent_status, v_status)
     WHERE id = v_agent;
  END LOOP;
  CLOSE updates;

  SELECT b.position - 1 AS position, d.id, d.url
    FROM JSON_TABLE(p_changes, '$[*]' COLUMNS (position FOR ORDINALITY, id_base varchar(26) PATH '$.id_base')) AS b
    STRAIGHT_JOIN deliveries d ON d.id BETWEEN CONCAT(b.id_base, '0000') AND CONCAT(b.id_base, 'ZZZZ')
   WHERE v_first_change IS NOT NULL
   ORDER BY d.id;
  COMMIT;
END
