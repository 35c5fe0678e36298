-- record_attempts: the current definition (applied by the migrations, checked against the live database by
-- test/procedures.e2e-spec.ts). A batch of delivery attempts, each {id, attempt, started_at, duration_ms, status_code?,
-- error?, snippet?, manual_retries, state, last_error?, next_attempt_at?, delivered_at?, finished_at}, recorded in one
-- transaction and one round trip.
-- - Each attempt's row goes into delivery_attempts.
-- - Then the deliveries are locked before their outcome is decided: a manual retry either committed before (and is
--   seen here) or waits and comes after. The locked rows' manual_retries are the result set, so the caller knows
--   which attempts a retry by hand overtook.
-- - Each delivery takes the state the caller decided (state, last_error, next_attempt_at, delivered_at), unless its
--   manual_retries moved since the attempt began (manual_retries in the batch is the value the attempt started
--   from): then it stays pending and goes out again at once (finished_at), on a fresh schedule
--   (attempts_before_retry = this attempt), and keeps its delivered_at.
-- - A delivery that left pending while its attempt was in flight (dead: its agent or agent event was deleted;
--   superseded: a newer one gave way to nothing more) is not brought back by the attempt's failure: it keeps its
--   state and reason. An attempt that succeeded or ended it says so.
-- - Times are UTC 'YYYY-MM-DD hh:mm:ss.fff' strings, as the connection writes dates.
-- - Needs JSON_TABLE (MariaDB 10.6 or MySQL 8.0 and later), like change_agents.
CREATE PROCEDURE record_attempts(IN p_attempts longtext)
MODIFIES SQL DATA
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  START TRANSACTION;
  INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
    SELECT a.id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, a.snippet FROM JSON_TABLE(p_attempts, '$[*]' COLUMNS (
      id varchar(40) PATH '$.id', attempt int unsigned PATH '$.attempt', started_at datetime(3) PATH '$.started_at',
      duration_ms int unsigned PATH '$.duration_ms', status_code smallint unsigned PATH '$.status_code',
      error varchar(512) PATH '$.error', snippet text PATH '$.snippet', manual_retries int unsigned PATH '$.manual_retries',
      state varchar(16) PATH '$.state', last_error varchar(512) PATH '$.last_error',
      next_attempt_at datetime(3) PATH '$.next_attempt_at', delivered_at datetime(3) PATH '$.delivered_at',
      finished_at datetime(3) PATH '$.finished_at')) AS a;
  SELECT d.id, d.manual_retries FROM deliveries d JOIN JSON_TABLE(p_attempts, '$[*]' COLUMNS (
      id varchar(40) PATH '$.id', attempt int unsigned PATH '$.attempt', started_at datetime(3) PATH '$.started_at',
      duration_ms int unsigned PATH '$.duration_ms', status_code smallint unsigned PATH '$.status_code',
      error varchar(512) PATH '$.error', snippet text PATH '$.snippet', manual_retries int unsigned PATH '$.manual_retries',
      state varchar(16) PATH '$.state', last_error varchar(512) PATH '$.last_error',
      next_attempt_at datetime(3) PATH '$.next_attempt_at', delivered_at datetime(3) PATH '$.delivered_at',
      finished_at datetime(3) PATH '$.finished_at')) AS a ON d.id = a.id ORDER BY d.id FOR UPDATE;
  UPDATE deliveries d JOIN JSON_TABLE(p_attempts, '$[*]' COLUMNS (
      id varchar(40) PATH '$.id', attempt int unsigned PATH '$.attempt', started_at datetime(3) PATH '$.started_at',
      duration_ms int unsigned PATH '$.duration_ms', status_code smallint unsigned PATH '$.status_code',
      error varchar(512) PATH '$.error', snippet text PATH '$.snippet', manual_retries int unsigned PATH '$.manual_retries',
      state varchar(16) PATH '$.state', last_error varchar(512) PATH '$.last_error',
      next_attempt_at datetime(3) PATH '$.next_attempt_at', delivered_at datetime(3) PATH '$.delivered_at',
      finished_at datetime(3) PATH '$.finished_at')) AS a ON d.id = a.id
     SET d.last_error = CASE WHEN d.manual_retries <> a.manual_retries THEN 'retried by hand during this attempt'
                             WHEN d.state <> 'pending' AND a.state = 'pending' THEN d.last_error ELSE a.last_error END,
         d.state = CASE WHEN d.manual_retries <> a.manual_retries THEN 'pending'
                        WHEN d.state <> 'pending' AND a.state = 'pending' THEN d.state ELSE a.state END,
         d.attempts = a.attempt,
         d.last_status_code = a.status_code,
         d.next_attempt_at = CASE WHEN d.manual_retries <> a.manual_retries THEN a.finished_at
                                  WHEN d.state <> 'pending' AND a.state = 'pending' THEN d.next_attempt_at ELSE a.next_attempt_at END,
         d.held_reason = NULL,
         d.delivered_at = IF(d.manual_retries <> a.manual_retries, d.delivered_at, COALESCE(a.delivered_at, d.delivered_at)),
         d.attempts_before_retry = IF(d.manual_retries <> a.manual_retries, a.attempt, d.attempts_before_retry);
  COMMIT;
END
