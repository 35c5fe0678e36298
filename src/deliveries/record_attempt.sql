-- record_attempt: the current definition (applied by the migrations, checked against the live database by
-- test/procedures.e2e-spec.ts). One delivery attempt, recorded as record_attempts (record_attempts.sql) records a
-- batch of one, with the attempt's fields as parameters instead of a JSON batch, in one transaction and one round trip.
-- An attempt alone is the everyday case (a quiet moment's webhook); here it costs MariaDB less CPU than a batch of one
-- through record_attempts, which parses its batch in every statement (bench/README.md).
-- test/deliveries-repository.e2e-spec.ts holds the two to the same results.
--
-- - The agent's row (p_agent, the delivery's agent) is read under a shared lock, held to COMMIT, before anything else.
--   The result set is the delivery's manual_retries (none when the delivery is gone) and `newer_change`: whether the
--   agent has a newer status change than the delivery's (p_sequence, its change's sequence), or is gone.
--   change_agent locks the agent first, so a newer change either committed before this read (and is seen) or commits
--   after this transaction (and its deliveries, loaded after their commit, find this one no longer pending). So when
--   `newer_change` is 0, no delivery of the agent waits for this one, and the worker has no one to wake
--   (src/delivery-worker/delivery.processor.ts).
-- - The everyday attempt reads no other row: the caller passes what it loaded (the agent, the change's sequence, the
--   delivery's manual_retries), and the UPDATE that finds the delivery with that manual_retries answers from them.
--   Only otherwise (retried by hand meanwhile, or gone) is the delivery read back. Every statement that reads a table
--   costs MariaDB about 0.05–0.1 ms of CPU here: this reads two fewer than the definition before (bench/README.md).
-- - The delivery takes the state the caller decided (p_state, p_last_error, p_next_attempt_at, p_delivered_at), unless
--   its manual_retries moved since the attempt began (p_manual_retries): then it stays pending and goes out again at
--   once (p_finished_at), on a fresh schedule (attempts_before_retry = this attempt), and keeps its delivered_at.
-- - A delivery that left pending while its attempt was in flight is not brought back by the attempt's failure.
-- - Times are UTC 'YYYY-MM-DD hh:mm:ss.fff' strings, as the connection writes dates; text parameters are utf8mb4_bin,
--   as the tables' columns, whatever the database's default collation.
CREATE PROCEDURE record_attempt(IN p_id varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_attempt int unsigned, IN p_started_at datetime(3),
                                IN p_duration_ms int unsigned, IN p_status_code smallint unsigned,
                                IN p_error varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_snippet text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
                                IN p_manual_retries int unsigned, IN p_state varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
                                IN p_last_error varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, IN p_next_attempt_at datetime(3),
                                IN p_delivered_at datetime(3), IN p_finished_at datetime(3), IN p_agent int unsigned, IN p_sequence int unsigned)
MODIFIES SQL DATA
BEGIN
  DECLARE v_latest int unsigned DEFAULT NULL;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  START TRANSACTION;
  SELECT a.status_sequence INTO v_latest FROM agents a WHERE a.id = p_agent LOCK IN SHARE MODE;
  INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
    VALUES (p_id, p_attempt, p_started_at, p_duration_ms, p_status_code, p_error, p_snippet);
  -- Not retried by hand meanwhile (the everyday attempt): the state decided.
  UPDATE deliveries d
     SET d.last_error = IF(d.state <> 'pending' AND p_state = 'pending', d.last_error, p_last_error),
         d.state = IF(d.state <> 'pending' AND p_state = 'pending', d.state, p_state),
         d.attempts = p_attempt,
         d.last_status_code = p_status_code,
         d.next_attempt_at = IF(d.state <> 'pending' AND p_state = 'pending', d.next_attempt_at, p_next_attempt_at),
         d.held_reason = NULL,
         d.delivered_at = COALESCE(p_delivered_at, d.delivered_at)
   WHERE d.id = p_id AND d.manual_retries = p_manual_retries;
  IF ROW_COUNT() > 0 THEN
    SELECT p_id AS id, p_manual_retries AS manual_retries, NOT (v_latest <=> p_sequence) AS newer_change;
  ELSE
    -- Retried by hand meanwhile, or gone (or written already): every case, as the delivery is now.
    UPDATE deliveries d
       SET d.last_error = CASE WHEN d.manual_retries <> p_manual_retries THEN 'retried by hand during this attempt'
                               WHEN d.state <> 'pending' AND p_state = 'pending' THEN d.last_error ELSE p_last_error END,
           d.state = CASE WHEN d.manual_retries <> p_manual_retries THEN 'pending'
                          WHEN d.state <> 'pending' AND p_state = 'pending' THEN d.state ELSE p_state END,
           d.attempts = p_attempt,
           d.last_status_code = p_status_code,
           d.next_attempt_at = CASE WHEN d.manual_retries <> p_manual_retries THEN p_finished_at
                                    WHEN d.state <> 'pending' AND p_state = 'pending' THEN d.next_attempt_at ELSE p_next_attempt_at END,
           d.held_reason = NULL,
           d.delivered_at = IF(d.manual_retries <> p_manual_retries, d.delivered_at, COALESCE(p_delivered_at, d.delivered_at)),
           d.attempts_before_retry = IF(d.manual_retries <> p_manual_retries, p_attempt, d.attempts_before_retry)
     WHERE d.id = p_id;
    SELECT d.id, d.manual_retries, NOT (v_latest <=> p_sequence) AS newer_change FROM deliveries d WHERE d.id = p_id;
  END IF;
  COMMIT;
END
