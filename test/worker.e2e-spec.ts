import { ReconcilerService } from '../src/delivery-worker/reconciler.service.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver, sleep } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('delivery worker', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'worker',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WORKER_LOCK_MS: '14321', RECONCILE_INTERVAL_MS: '600000' },
      { withWorker: true },
    );
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  it('locks a running job for WORKER_LOCK_MS, as configured', async () => {
    receiver.reply({ status: 200, delayMs: 2500 });
    const agent = await agentWithEvents(t, { extension_name: 'lock@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'POST' },
    ]);
    await agent.setStatus('available');
    const [request] = await receiver.waitFor(1);
    const ttl = await t.redis.pttl(`${t.config.queuePrefix}:webhooks:${request.headers['webhook-id'] as string}:lock`);
    // The lock is taken for 14,321 ms and renewed at half of it; BullMQ's default would be 30,000 ms. (Not much shorter:
    // the 2,500 deliveries of the next test share this process's event loop with the test's receiver, and a lock that
    // lapses under that load hands a job in flight to a second run, which sends its webhook twice.)
    expect(ttl).toBeGreaterThan(10_000);
    expect(ttl).toBeLessThanOrEqual(14_321);
  });

  it('re-enqueues, with several reconcilers at once, every due pending delivery that has no job or a finished one, and sends each once', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'orphans@ringme.ru' }, [
      { url: receiver.url('/orphans'), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(1);
    const template = await eventually(
      async () =>
        (await t.sql<{ id: string }>("SELECT id FROM deliveries WHERE client_id = ? AND state = 'succeeded'", [agent.clientId]))[0],
    );
    // 2,500 pending deliveries of the same status change that Redis never heard of (more than two pages of the reconciler)…
    const [row] = await t.sql<Record<string, unknown>>(
      'SELECT client_id, agent_id, agent_event_id, status_change_id, url, method, created_at FROM deliveries WHERE id = ?',
      [template.id],
    );
    const due = new Date(Date.now() - 10_000);
    const orphans = Array.from({ length: 2500 }, (_, i) => [
      `msg_orphan${String(i).padStart(5, '0')}`,
      ...Object.values(row),
      'pending',
      due,
    ]);
    await t.sql(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, created_at, state, next_attempt_at)
       VALUES ?`,
      [orphans],
    );
    // …and one whose job finished while its row stayed pending: the reconciler must replace the finished job.
    await t.sql("UPDATE deliveries SET state = 'pending', next_attempt_at = NOW(3) - INTERVAL 10 SECOND WHERE id = ?", [template.id]);
    expect(await t.redis.hget(`${t.config.queuePrefix}:webhooks:${template.id}`, 'finishedOn')).not.toBeNull();

    const reconciler = t.app.get(ReconcilerService);
    const requeued = await Promise.all([reconciler.reconcile(), reconciler.reconcile(), reconciler.reconcile()]);
    expect(Math.max(...requeued)).toBeGreaterThan(0);

    await receiver.waitFor(2502, 60_000);
    await sleep(1000);
    const ids = receiver.requests.map((request) => request.headers['webhook-id'] as string);
    expect(ids).toHaveLength(2502);
    expect(new Set(ids).size).toBe(2501);
    expect(ids.filter((id) => id === template.id)).toHaveLength(2);
    const [{ pending }] = await t.sql<{ pending: number }>(
      "SELECT COUNT(*) AS pending FROM deliveries WHERE client_id = ? AND state <> 'succeeded'",
      [agent.clientId],
    );
    expect(Number(pending)).toBe(0);
    // Nothing left to do: a pass over succeeded deliveries enqueues nothing.
    expect(await reconciler.reconcile()).toBe(0);
  }, 90_000);
});
