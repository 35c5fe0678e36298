import { admin, createTestApp, type TestApp } from './support/test-app.js';
import { createAgent, createClient, createEvent, login, logout, setStatus } from './support/api-fixtures.js';

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
