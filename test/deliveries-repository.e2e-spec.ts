import fc from 'fast-check';
import { DeliveriesRepository, sqlTime, type AttemptToRecord } from '../src/deliveries/deliveries.repository.js';
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
});
