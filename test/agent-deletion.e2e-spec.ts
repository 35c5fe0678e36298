import { admin, createTestApp, type TestApp } from './support/test-app.js';
import { createAgent, createClient, createEvent, login, logout, setStatus } from './support/api-fixtures.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver } from './support/receiver.js';

/**
 * Deleting an agent (or one of its agent events) stops its webhooks still waiting for a receiver: they end as `dead`
 * with the reason, stay in the delivery log, and no worker sends them. Other agents' deliveries are untouched.
 */
describe('deleting an agent or an agent event with pending deliveries', () => {
  let t: TestApp;
  const deliveries = (agentId: number) =>
    t.sql<{ id: string; agent_event_id: number; state: string; last_error: string | null }>(
      'SELECT id, agent_event_id, state, last_error FROM deliveries WHERE agent_id = ? ORDER BY id',
      [agentId],
    );

  beforeAll(async () => {
    // No worker: the deliveries stay pending until something else changes them.
    t = await createTestApp('agent_deletion');
    await createClient(t, 'del');
  });
  afterAll(() => t.close());

  it("cancels the deleted agent's pending deliveries and leaves another agent's alone", async () => {
    const gone = await createAgent(t, 'del', 'local', '101');
    const kept = await createAgent(t, 'del', 'local', '102');
    for (const agent of [gone, kept]) {
      await createEvent(t, 'del', 'local', agent, login());
      await setStatus(t, 'del', 'local', agent, 'available').expect(200);
    }
    expect((await deliveries(gone)).map((d) => d.state)).toEqual(['pending']);

    await t.http().delete(`/client/del/agent/local/${gone}`).set(admin).expect(204);

    const [cancelled] = await deliveries(gone);
    expect(cancelled).toMatchObject({ state: 'dead', last_error: 'cancelled: the agent was deleted' });
    expect((await deliveries(kept)).map((d) => [d.state, d.last_error])).toEqual([['pending', null]]);
    const log = await t.http().get(`/client/del/delivery/${cancelled.id}`).set(admin).expect(200);
    expect(log.body).toMatchObject({ state: 'dead', last_error: 'cancelled: the agent was deleted', next_attempt_at: null });
  });

  it("cancels only the deleted agent event's pending deliveries", async () => {
    const agent = await createAgent(t, 'del', 'remote', '+74950001234');
    const loginEvent = await createEvent(t, 'del', 'remote', agent, login());
    const other = await createEvent(t, 'del', 'remote', agent, login('https://hooks.example.com/second'));
    await createEvent(t, 'del', 'remote', agent, logout());
    await setStatus(t, 'del', 'remote', agent, 'available').expect(200);

    await t.http().delete(`/client/del/agent/remote/${agent}/event/${loginEvent}`).set(admin).expect(204);

    const rows = await deliveries(agent);
    expect(rows.map((d) => [d.agent_event_id, d.state, d.last_error])).toEqual([
      [loginEvent, 'dead', 'cancelled: the agent event was deleted'],
      [other, 'pending', null],
    ]);
  });
});

describe('deleting an agent while one of its webhooks is on its way', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    // A retry 50 ms after a failure: an attempt that brought the delivery back to pending would be sent again at once.
    t = await createTestApp(
      'agent_deletion_inflight',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms' },
      { withWorker: true },
    );
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  it('keeps the delivery cancelled when the attempt in flight then fails: it is not sent again', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The first request is held open until the agent is deleted, then refused.
    receiver.reply({ status: 503, release: gate });
    const agent = await agentWithEvents(t, { extension_name: 'leaving@ringme.ru' }, [
      { url: receiver.url('/leaving'), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(1);
    const [{ id }] = await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE agent_id = ?', [agent.agentId]);

    await t.http().delete(agent.base).set(admin).expect(204);
    open();

    // The attempt is recorded, and the job is through: its retry found the delivery cancelled and sent nothing.
    await eventually(
      async () => (await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM delivery_attempts WHERE delivery_id = ?', [id]))[0].n > 0,
    );
    await eventually(async () => (await t.redis.hget(`${t.config.queuePrefix}:webhooks:${id}`, 'finishedOn')) !== null);
    const [row] = await t.sql<{ state: string; last_error: string; attempts: number }>(
      'SELECT state, last_error, attempts FROM deliveries WHERE id = ?',
      [id],
    );
    expect(row).toEqual({ state: 'dead', last_error: 'cancelled: the agent was deleted', attempts: 1 });
    expect(receiver.requests).toHaveLength(1);
  });
});
