import { RetentionService } from '../src/delivery-worker/retention.service.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver } from './support/receiver.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

describe('retention of delivery history', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp('retention', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' }, { withWorker: true });
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  const age = (table: string, column: string, days: number, ids: (string | number)[]) =>
    t.sql(`UPDATE ${table} SET ${column} = NOW(3) - INTERVAL ${days} DAY WHERE id IN (?)`, [ids]);
  const ids = async (table: string, where: string, params: unknown[]) =>
    (await t.sql<{ id: string | number }>(`SELECT id FROM ${table} WHERE ${where} ORDER BY id`, params)).map((row) => String(row.id));

  it('prunes succeeded deliveries after 30 days and dead ones after 90, with their attempts and unreferenced status changes; keeps young and pending ones', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'history@ringme.ru' }, [
      { url: receiver.url('/a'), event_type: 'agent-login', method: 'GET' },
      { url: receiver.url('/b'), event_type: 'agent-login', method: 'POST' },
      { url: receiver.url('/c'), event_type: 'agent-logout', method: 'GET' },
    ]);
    for (const status of ['available', 'logged_out', 'available', 'logged_out'] as const) await agent.setStatus(status);
    const rows = await eventually(async () => {
      const all = await t.sql<{ id: string; url: string; status_change_id: number; state: string }>(
        'SELECT d.id, d.url, d.status_change_id, d.state, s.sequence FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id WHERE d.client_id = ? ORDER BY s.sequence, d.url',
        [agent.clientId],
      );
      return all.length === 6 && all.every((row) => row.state === 'succeeded') && all;
    });
    const [d1a, d1b, d2c, d3a, d3b, d4c] = rows.map((row) => row.id);
    const [sc1, sc2, sc3, sc4] = [rows[0], rows[2], rows[3], rows[5]].map((row) => String(row.status_change_id));

    await age('deliveries', 'created_at', 31, [d1a, d1b, d3a]); // succeeded, past 30 days: go
    await t.sql("UPDATE deliveries SET state = 'dead' WHERE id IN (?)", [[d2c, d4c]]);
    await age('deliveries', 'created_at', 91, [d2c]); // dead, past 90 days: goes
    await age('deliveries', 'created_at', 89, [d4c]); // dead, 89 days: stays

    // A pending delivery is never pruned, however old (due tomorrow, so the worker leaves it alone here).
    const other = await agentWithEvents(t, { agent_number: '+3712000001' }, [
      { url: receiver.url('/p'), event_type: 'agent-login', method: 'GET' },
    ]);
    await other.setStatus('available');
    const [pending] = await eventually(async () => {
      const found = await ids('deliveries', "client_id = ? AND state = 'succeeded'", [other.clientId]);
      return found.length === 1 && found;
    });
    await t.sql("UPDATE deliveries SET state = 'pending', next_attempt_at = NOW(3) + INTERVAL 1 DAY WHERE id = ?", [pending]);
    await age('deliveries', 'created_at', 365, [pending]);

    // Status changes that never had a delivery (no agent event): the one older than 90 days goes.
    const silent = await agentWithEvents(t, { extension_name: 'silent@ringme.ru' }, []);
    await silent.setStatus('available');
    await silent.setStatus('logged_out');
    const [oldSilent, youngSilent] = await ids('status_changes', 'agent_id = ?', [silent.agentId]);
    await age('status_changes', 'changed_at', 91, [oldSilent]);
    await age('status_changes', 'changed_at', 10, [youngSilent]);

    const attemptsBefore = await ids('delivery_attempts', 'delivery_id IN (?)', [[d1a, d1b, d2c, d3a, d3b, d4c]]);
    expect(attemptsBefore).toHaveLength(6);

    // Two workers at once: each batch skips rows the other holds; together they remove each row once. (The app's own
    // worker may make its first pass, 10 to 20 s after it started, at the same moment: a third pruner, so the two
    // passes here remove at most the four; what is left is checked row by row below.)
    const retention = t.app.get(RetentionService);
    const passes = await Promise.all([retention.prune(), retention.prune()]);
    expect(passes[0].deliveries + passes[1].deliveries).toBeLessThanOrEqual(4);

    expect(await ids('deliveries', 'client_id IN (?)', [[agent.clientId, other.clientId]])).toEqual([d3b, d4c, pending].sort());
    expect(await ids('delivery_attempts', 'delivery_id IN (?)', [[d1a, d1b, d2c, d3a]])).toEqual([]);
    expect(await ids('delivery_attempts', 'delivery_id IN (?)', [[d3b, d4c]])).toHaveLength(2);
    // sc1 and sc2 lost all their deliveries; sc3 still has d3b, sc4 has d4c.
    const changes = await ids('status_changes', 'id IN (?)', [[sc1, sc2, sc3, sc4, oldSilent, youngSilent]]);
    expect(changes).toEqual([sc3, sc4, youngSilent].sort((a, b) => Number(a) - Number(b)));

    // The delivery log: pruned deliveries are gone, kept ones still show their status change.
    await t.http().get(`/client/${agent.clientId}/delivery/${d1a}`).set(admin).expect(404);
    const kept = await t.http().get(`/client/${agent.clientId}/delivery/${d3b}`).set(admin).expect(200);
    expect(kept.body.status_change).toMatchObject({ agent_status: 'available', sequence: 3 });
    // And the agent's sequence goes on from where it was.
    await agent.setStatus('available');
    const [{ sequence }] = await t.sql<{ sequence: number }>('SELECT MAX(sequence) AS sequence FROM status_changes WHERE agent_id = ?', [
      agent.agentId,
    ]);
    expect(sequence).toBe(5);

    // Nothing left to prune.
    expect(await retention.prune()).toMatchObject({ deliveries: 0, statusChanges: 0 });
  }, 60_000);

  it('prunes bulk recoveries older than either retention; a younger one stays readable', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'recovered@ringme.ru' }, []);
    const recover = () =>
      t
        .http()
        .post(`/client/${agent.clientId}/delivery/recover`)
        .set(admin)
        .send({ since: new Date(Date.now() - 3600_000).toISOString() })
        .expect(202);
    const [old, young] = [(await recover()).body.id as string, (await recover()).body.id as string];
    await age('delivery_recoveries', 'created_at', 91, [old]);
    await age('delivery_recoveries', 'created_at', 89, [young]);

    expect(await t.app.get(RetentionService).prune()).toMatchObject({ recoveries: 1 });
    await t.http().get(`/client/${agent.clientId}/delivery/recover/${old}`).set(admin).expect(404);
    const kept = await t.http().get(`/client/${agent.clientId}/delivery/recover/${young}`).set(admin).expect(200);
    expect(kept.body).toMatchObject({ id: young, matched: 0, queued: 0 });
  });
});
