import fc from 'fast-check';
import {
  DeliveriesRepository,
  loadToSendSql,
  newerSentSql,
  PREPARED_LOAD_LIMIT,
  sqlTime,
  type AttemptToRecord,
} from '../src/deliveries/deliveries.repository.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * The delivery table family's two ways of recording an attempt: `record_attempt` (an attempt alone, the everyday case)
 * and `record_attempts` (a batch, here of one). Two deliveries start alike (state, attempts, manual retries, times);
 * the same attempt is recorded on one through each procedure, and what each answers and leaves in MariaDB (the
 * delivery, its attempt rows) must be the same.
 */
describe('DeliveriesRepository: an attempt alone and a batch of one', () => {
  let t: TestApp;
  let repository: DeliveriesRepository;
  let statusChangeId: number;
  let agentEventId: number;
  let agentId: number;
  let run = 0;

  beforeAll(async () => {
    t = await createTestApp('deliveries-repository');
    repository = t.app.get(DeliveriesRepository);
    await t.sql("INSERT INTO clients (id, name, agent_event_limit, signing_secret) VALUES ('d1', 'd1', 20, 'whsec_seed')");
    const agent = (await t.sql("INSERT INTO agents (client_id, agent_type, extension_name) VALUES ('d1', 'local', '101')")) as unknown as {
      insertId: number;
    };
    const event = (await t.sql(
      "INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES ('d1', ?, 'agent-login', 'GET', 'https://hooks.example.com/a')",
      [agent.insertId],
    )) as unknown as { insertId: number };
    agentEventId = event.insertId;
    agentId = agent.insertId;
    const change = (await t.sql(
      `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
       VALUES ('d1', ?, 'local', 'logged_out', 'available', 'api', 1, '101', NOW(3))`,
      [agent.insertId],
    )) as unknown as { insertId: number };
    statusChangeId = change.insertId;
  });
  afterAll(() => t.close());

  interface Start {
    state: 'pending' | 'succeeded' | 'dead' | 'superseded';
    attempts: number;
    manualRetries: number;
    lastError: string | null;
    delivered: boolean;
  }

  async function seedDelivery(id: string, start: Start): Promise<void> {
    await t.sql(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts, manual_retries,
                               last_error, held_reason, next_attempt_at, created_at, delivered_at)
       SELECT ?, 'd1', agent_id, ?, ?, 'https://hooks.example.com/a', 'GET', ?, ?, ?, ?, 'waiting', '2026-01-01 00:00:05.000', '2026-01-01 00:00:00.000', ?
         FROM status_changes WHERE id = ?`,
      [
        id,
        agentEventId,
        statusChangeId,
        start.state,
        start.attempts,
        start.manualRetries,
        start.lastError,
        start.delivered ? '2026-01-01 00:00:01.000' : null,
        statusChangeId,
      ],
    );
  }

  async function rows(id: string) {
    const [delivery] = await t.sql<Record<string, unknown>>(
      `SELECT state, attempts, attempts_before_retry, manual_retries, last_status_code, last_error, held_reason, next_attempt_at,
              delivered_at FROM deliveries WHERE id = ?`,
      [id],
    );
    const attempts = await t.sql<Record<string, unknown>>(
      'SELECT attempt_number, started_at, duration_ms, status_code, error, response_snippet FROM delivery_attempts WHERE delivery_id = ? ORDER BY id',
      [id],
    );
    return { delivery, attempts };
  }

  const start: fc.Arbitrary<Start> = fc.record({
    state: fc.constantFrom('pending' as const, 'pending' as const, 'succeeded' as const, 'dead' as const, 'superseded' as const),
    attempts: fc.integer({ min: 0, max: 5 }),
    manualRetries: fc.integer({ min: 0, max: 2 }),
    lastError: fc.option(fc.constantFrom('earlier failure', 'superseded: a newer change of this agent has gone to this URL')),
    delivered: fc.boolean(),
  });

  /** The attempt: its outcome as the worker decided it, and whether a manual retry came while it was in flight. */
  const outcome = fc.record({
    state: fc.constantFrom('succeeded' as const, 'pending' as const, 'dead' as const),
    statusCode: fc.option(fc.constantFrom(200, 204, 429, 500, 503)),
    error: fc.option(fc.constantFrom('timeout: no answer within 10 s', 'connection_failed: refused')),
    snippet: fc.option(fc.string({ maxLength: 40 })),
    retriedMeanwhile: fc.boolean(),
    durationMs: fc.integer({ min: 0, max: 10_000 }),
  });

  /** Rows MariaDB read per table while running `sql` (ANALYZE FORMAT=JSON: each table's r_rows times its r_loops). */
  async function rowsRead(sql: string, params: unknown[]): Promise<Map<string, number>> {
    const [row] = await t.sql<Record<string, string>>(`ANALYZE FORMAT=JSON ${sql}`, params);
    const read = new Map<string, number>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const table = node as { table_name?: string; r_rows?: number | null; r_loops?: number };
      if (typeof table.table_name === 'string') {
        const rows = (table.r_rows ?? 0) * (table.r_loops ?? 0);
        read.set(table.table_name, (read.get(table.table_name) ?? 0) + rows);
      }
      Object.values(node).forEach(walk);
    };
    walk(JSON.parse(Object.values(row)[0]));
    return read;
  }

  /**
   * An agent with `count` status changes and a delivery of each to one URL, in the state and with the attempts
   * `deliveryOf` gives by sequence. Returns the id of the delivery of a sequence.
   */
  async function seedHistory(
    name: string,
    count: number,
    deliveryOf: (sequence: number) => [string, number],
  ): Promise<{ delivery: (sequence: number) => string }> {
    const { insertId } = (await t.sql(
      "INSERT INTO agents (client_id, agent_type, extension_name, status_sequence) VALUES ('d1', 'local', ?, ?)",
      [name, count],
    )) as unknown as { insertId: number };
    const changes = Array.from({ length: count }, (_, i) => [
      'd1',
      insertId,
      'local',
      i % 2 ? 'available' : 'logged_out',
      i % 2 ? 'logged_out' : 'available',
      'api',
      i + 1,
      name,
    ]);
    await t.sql(
      'INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at) VALUES ' +
        changes.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, NOW(3))').join(', '),
      changes.flat(),
    );
    const delivery = (sequence: number) => `msg_hist${String(insertId).padStart(8, '0')}${String(sequence).padStart(6, '0')}`;
    const rows = Array.from({ length: count }, (_, i) => [delivery(i + 1), insertId, i + 1, ...deliveryOf(i + 1)]);
    await t.sql(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts, created_at)
       SELECT r.id, 'd1', s.agent_id, ?, s.id, 'https://hooks.example.com/a', 'GET', r.state, r.attempts, NOW(3)
         FROM JSON_TABLE(?, '$[*]' COLUMNS (id varchar(40) PATH '$[0]', agent int PATH '$[1]', sequence int PATH '$[2]',
                                           state varchar(16) PATH '$[3]', attempts int PATH '$[4]')) AS r
         JOIN status_changes s ON s.agent_id = r.agent AND s.sequence = r.sequence`,
      [agentEventId, JSON.stringify(rows)],
    );
    return { delivery };
  }

  it("loads a batch of agents' newest deliveries without reading their histories, and still sees a newer one gone out", async () => {
    const HISTORY = 300;
    const histories: { delivery: (sequence: number) => string }[] = [];
    for (const name of ['h1', 'h2']) {
      // Every change but the newest went out; the newest is pending.
      histories.push(await seedHistory(name, HISTORY, (sequence) => (sequence === HISTORY ? ['pending', 0] : ['succeeded', 1])));
    }
    const newest = histories.map(({ delivery }) => delivery(HISTORY));
    const read = await rowsRead(loadToSendSql(newest.length), newest);
    // The deliveries, their changes, client and agents, and the agents' pending deliveries: nothing of the 2 × 300 changes.
    const total = [...read.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(20);
    const loaded = await repository.loadToSend(newest);
    expect(newest.map((id) => [loaded.get(id)?.state, Number(loaded.get(id)?.newer_sent), loaded.get(id)?.older_id])).toEqual([
      ['pending', 0, null],
      ['pending', 0, null],
    ]);

    // An older delivery of the first agent, pending again (retried by hand): a newer one has gone out.
    const older = histories[0].delivery(HISTORY - 2);
    await t.sql("UPDATE deliveries SET state = 'pending' WHERE id = ?", [older]);
    const again = await repository.loadToSend([older, newest[0]]);
    expect(Number(again.get(older)?.newer_sent)).toBe(1);
    expect(again.get(newest[0])?.older_id).toBe(older);
    // Loaded alone, as at a quiet moment: the same facts (the newer one gone out is looked for in a second statement).
    const alone = await Promise.all([older, ...newest].map((id) => repository.loadToSend([id])));
    expect(alone.map((loaded) => [...loaded.values()].map((row) => [Number(row.newer_sent), row.older_id]))).toEqual([
      [[1, null]],
      [[0, older]],
      [[0, null]],
    ]);
    // At most PREPARED_LOAD_LIMIT deliveries load as a prepared statement, more as text: the same row either way.
    const asText = await repository.loadToSend(Array.from({ length: PREPARED_LOAD_LIMIT + 1 }, () => newest[0]));
    expect(asText.get(newest[0])).toEqual(again.get(newest[0]));
    expect(asText.get(newest[0])?.changed_at).toBeInstanceOf(Date);
  });

  it("loads an agent's oldest pending delivery without reading the backlog behind it, and still finds its neighbours", async () => {
    // A receiver that fell behind: 200 changes sent, then a backlog of 300 never attempted.
    const SENT = 200;
    const BACKLOG = 300;
    const { delivery } = await seedHistory('b1', SENT + BACKLOG, (sequence) => (sequence <= SENT ? ['succeeded', 1] : ['pending', 0]));
    const oldest = delivery(SENT + 1);
    // Its row, change, client and agent, and its neighbours' index entries: none of the 300 rows behind it; nor when the
    // load alone looks for a newer one gone out (its agent has changed since).
    for (const [sql, ids] of [
      [loadToSendSql(1), [oldest]],
      [loadToSendSql(2), [oldest, oldest]],
      [newerSentSql(1), [oldest]],
    ] as const) {
      const read = await rowsRead(sql, [...ids]);
      expect([...read.values()].reduce((a, b) => a + b, 0)).toBeLessThan(20);
    }
    const newest = delivery(SENT + BACKLOG);
    const loaded = await repository.loadToSend([oldest, newest]);
    expect([oldest, newest].map((id) => [Number(loaded.get(id)?.newer_sent), loaded.get(id)?.older_id])).toEqual([
      [0, null],
      [0, delivery(SENT + BACKLOG - 1)],
    ]);

    // One of the backlog attempted (a delivery held past its wait goes out): an older one sees a newer one gone out,
    // a newer one does not.
    await t.sql('UPDATE deliveries SET attempts = 1 WHERE id = ?', [delivery(SENT + 150)]);
    const again = await repository.loadToSend([oldest, delivery(SENT + 151)]);
    expect([oldest, delivery(SENT + 151)].map((id) => [Number(again.get(id)?.newer_sent), again.get(id)?.older_id])).toEqual([
      [1, null],
      [0, delivery(SENT + 150)],
    ]);
    const alone = await Promise.all([oldest, delivery(SENT + 151)].map((id) => repository.loadToSend([id])));
    expect(alone.map((loaded) => [...loaded.values()].map((row) => [Number(row.newer_sent), row.older_id]))).toEqual([
      [[1, null]],
      [[0, delivery(SENT + 150)]],
    ]);
  });

  it('answers and writes the same for every starting state and outcome, manual retries meanwhile included', async () => {
    await fc.assert(
      fc.asyncProperty(start, outcome, async (from, attempt) => {
        run++;
        const [alone, batch] = [`msg_alone${String(run).padStart(8, '0')}`, `msg_batch${String(run).padStart(8, '0')}`];
        await seedDelivery(alone, from);
        await seedDelivery(batch, from);
        const startedAt = new Date(Date.UTC(2026, 0, 1, 0, 1, 0, run));
        const finishedAt = new Date(startedAt.getTime() + attempt.durationMs);
        const record = (id: string): AttemptToRecord => ({
          id,
          attempt: from.attempts + 1,
          started_at: sqlTime(startedAt),
          duration_ms: attempt.durationMs,
          status_code: attempt.statusCode ?? undefined,
          error: attempt.error ?? undefined,
          snippet: attempt.snippet ?? undefined,
          manual_retries: attempt.retriedMeanwhile && from.manualRetries > 0 ? from.manualRetries - 1 : from.manualRetries,
          state: attempt.state,
          last_error: attempt.state === 'succeeded' ? undefined : 'HTTP 503',
          next_attempt_at: attempt.state === 'pending' ? sqlTime(new Date(finishedAt.getTime() + 5000)) : undefined,
          delivered_at: attempt.state === 'succeeded' ? sqlTime(finishedAt) : undefined,
          finished_at: sqlTime(finishedAt),
          agent_id: agentId,
          sequence: 1,
        });
        const [answerAlone] = (await repository.recordAttemptAlone(record(alone))) as [{ id: string; manual_retries: number }[]];
        const [answerBatch] = (await repository.recordAttemptBatch([record(batch)])) as [{ id: string; manual_retries: number }[]];
        expect(answerAlone.map((row) => Number(row.manual_retries))).toEqual(answerBatch.map((row) => Number(row.manual_retries)));
        expect(answerAlone.map((row) => row.id)).toEqual([alone]);
        expect(await rows(alone)).toEqual(await rows(batch));
      }),
      { numRuns: 60 },
    );
  });

  it('records through either an attempt whose delivery was retried by hand meanwhile as pending again, due at once', async () => {
    for (const [id, write] of [
      ['msg_retried_alone', (a: AttemptToRecord) => repository.recordAttemptAlone(a)],
      ['msg_retried_batch', (a: AttemptToRecord) => repository.recordAttemptBatch([a])],
    ] as const) {
      await seedDelivery(id, { state: 'pending', attempts: 2, manualRetries: 1, lastError: null, delivered: false });
      await write({
        id,
        attempt: 3,
        started_at: '2026-01-01 00:02:00.000',
        duration_ms: 12,
        status_code: 200,
        manual_retries: 0,
        state: 'succeeded',
        delivered_at: '2026-01-01 00:02:00.012',
        finished_at: '2026-01-01 00:02:00.012',
        agent_id: agentId,
        sequence: 1,
      });
      const { delivery, attempts } = await rows(id);
      expect(delivery).toMatchObject({
        state: 'pending',
        attempts: 3,
        attempts_before_retry: 3,
        last_error: 'retried by hand during this attempt',
        next_attempt_at: new Date('2026-01-01T00:02:00.012Z'),
        delivered_at: null,
        held_reason: null,
      });
      expect(attempts).toEqual([expect.objectContaining({ attempt_number: 3, status_code: 200 })]);
    }
  });
  it("tells whether the delivery's agent has a newer status change when the attempt is recorded (none, one, or the agent gone)", async () => {
    const agent = (await t.sql(
      "INSERT INTO agents (client_id, agent_type, extension_name, agent_status, status_sequence) VALUES ('d1', 'local', '102', 'available', 1)",
    )) as unknown as { insertId: number };
    const change = (await t.sql(
      `INSERT INTO status_changes (client_id, agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, changed_at)
       VALUES ('d1', ?, 'local', 'logged_out', 'available', 'api', 1, '102', NOW(3))`,
      [agent.insertId],
    )) as unknown as { insertId: number };
    const ids = ['msg_newer_1', 'msg_newer_2', 'msg_newer_3', 'msg_newer_4'];
    for (const id of ids) {
      await t.sql(
        `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, next_attempt_at, created_at)
         VALUES (?, 'd1', ?, ?, ?, 'https://hooks.example.com/a', 'GET', NOW(3), NOW(3))`,
        [id, agent.insertId, agentEventId, change.insertId],
      );
    }
    const succeeded = (id: string): AttemptToRecord => ({
      id,
      attempt: 1,
      started_at: '2026-01-01 00:03:00.000',
      duration_ms: 5,
      status_code: 200,
      manual_retries: 0,
      state: 'succeeded',
      delivered_at: '2026-01-01 00:03:00.005',
      finished_at: '2026-01-01 00:03:00.005',
      agent_id: agent.insertId,
      sequence: 1,
    });
    const newerChange = async (...batch: string[]) =>
      [...(await repository.recordAttempts(batch.map(succeeded))).values()].map((recorded) => recorded.newerChange);
    // The delivery is of the agent's newest change: no delivery of the agent can wait for it.
    expect(await newerChange(ids[0])).toEqual([false]);
    // The agent changed again since.
    await t.sql('UPDATE agents SET status_sequence = 2 WHERE id = ?', [agent.insertId]);
    expect(await newerChange(ids[1])).toEqual([true]);
    // A batch (a busy moment's) is taken to have one.
    await t.sql('UPDATE agents SET status_sequence = 1 WHERE id = ?', [agent.insertId]);
    expect(await newerChange(ids[2], ids[3])).toEqual([true, true]);
    // The agent is gone.
    await t.sql('DELETE FROM agents WHERE id = ?', [agent.insertId]);
    await t.sql("UPDATE deliveries SET state = 'pending' WHERE id = ?", [ids[0]]);
    expect(await newerChange(ids[0])).toEqual([true]);
  });
});
