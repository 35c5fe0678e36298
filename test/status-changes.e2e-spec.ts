import {
  agentName,
  createAgent,
  createClient,
  createEvent,
  dbState,
  login,
  logout,
  nameField,
  setStatus,
  type AgentType,
} from './support/api-fixtures.js';
import { deliveryFacts, loggedPayload } from './support/delivery-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

interface StatusChangeRow {
  id: number;
  client_id: string;
  agent_id: number;
  agent_type: string;
  old_status: string;
  agent_status: string;
  event_source: string;
  sequence: number;
  agent_name: string | null;
  changed_at: Date;
  /** The change's place in its client's feed, in commit order. */
  feed_position: number;
}

interface DeliveryRow {
  id: string;
  client_id: string;
  agent_id: number;
  agent_event_id: number;
  status_change_id: number;
  url: string;
  method: string;
  state: string;
  attempts: number;
}

describe('status change detection and the outbox', () => {
  let t: TestApp;
  let clientN = 0;
  beforeAll(async () => {
    t = await createTestApp('status_changes');
  });
  afterAll(() => t.close());

  const statusChanges = (agentId: number) =>
    t.sql<StatusChangeRow>('SELECT * FROM status_changes WHERE agent_id = ? ORDER BY sequence', [agentId]);
  /** The payload a delivery is sent with (built from its status change), as the delivery log shows it. */
  const sentPayload = async (delivery: { client_id: string; id: string }) =>
    (await loggedPayload(t, delivery.client_id, delivery.id)).payload;
  const deliveries = (agentId: number) =>
    t.sql<DeliveryRow>(
      'SELECT id, client_id, agent_id, agent_event_id, status_change_id, url, method, state, attempts FROM deliveries WHERE agent_id = ? ORDER BY agent_event_id, created_at',
      [agentId],
    );

  /** A fresh client with one agent of the type; names are unique per client. */
  async function freshAgent(type: AgentType, name = agentName(type, 1)) {
    const clientId = `s${++clientN}`;
    await createClient(t, clientId);
    const agentId = await createAgent(t, clientId, type, name);
    return { clientId, agentId, name };
  }

  describe.each<[AgentType, string]>([
    ['local', '000*094@ringme.ru'],
    ['remote', '+74951234567'],
  ])('a %s agent', (type, name) => {
    it('writes one status change and one pending delivery per agent-login event when it logs in through the API', async () => {
      const { clientId, agentId } = await freshAgent(type, name);
      const login1 = await createEvent(t, clientId, type, agentId, {
        url: 'https://a.example.com/in?x=1',
        method: 'GET',
        event_type: 'agent-login',
      });
      const login2 = await createEvent(t, clientId, type, agentId, {
        url: 'https://b.example.com/in',
        method: 'POST',
        event_type: 'agent-login',
      });
      await createEvent(t, clientId, type, agentId, logout());
      const startedAt = Date.now();

      await setStatus(t, clientId, type, agentId, 'available').expect(200, { id: agentId, [nameField(type)]: name, status: 'available' });

      const changes = await statusChanges(agentId);
      expect(changes).toEqual([
        {
          id: expect.anything(),
          client_id: clientId,
          agent_id: agentId,
          agent_type: type,
          old_status: 'logged_out',
          agent_status: 'available',
          event_source: 'api',
          sequence: 1,
          agent_name: name,
          changed_at: expect.any(Date),
          feed_position: 1,
        },
      ]);
      expect(Math.abs(changes[0].changed_at.getTime() - startedAt)).toBeLessThan(5000);
      const common = { client_id: clientId, agent_id: agentId, status_change_id: changes[0].id, state: 'pending', attempts: 0 };
      const rows = await deliveries(agentId);
      expect(rows).toEqual([
        { ...common, id: expect.any(String), agent_event_id: login1, url: 'https://a.example.com/in?x=1', method: 'GET' },
        { ...common, id: expect.any(String), agent_event_id: login2, url: 'https://b.example.com/in', method: 'POST' },
      ]);
      const payload = JSON.stringify({
        agent_status: 'available',
        agent_type: type,
        event_source: 'api',
        agent_id: String(agentId),
        [nameField(type)]: name,
      });
      for (const row of rows) expect(JSON.stringify(await sentPayload(row))).toBe(payload);
    });

    it('builds the payload fields in the order of the spec', async () => {
      const { clientId, agentId } = await freshAgent(type, name);
      await createEvent(t, clientId, type, agentId, login());
      await setStatus(t, clientId, type, agentId, 'available').expect(200);
      const [delivery] = await deliveries(agentId);
      expect(Object.keys(await sentPayload(delivery))).toEqual(['agent_status', 'agent_type', 'event_source', 'agent_id', nameField(type)]);
    });

    it('fires the agent-logout events, and only those, when it logs out', async () => {
      const { clientId, agentId } = await freshAgent(type, name);
      await createEvent(t, clientId, type, agentId, login());
      await setStatus(t, clientId, type, agentId, 'available').expect(200);
      const out = await createEvent(t, clientId, type, agentId, {
        url: 'https://out.example.com/',
        method: 'POST',
        event_type: 'agent-logout',
      });
      await setStatus(t, clientId, type, agentId, 'logged_out').expect(200, { id: agentId, [nameField(type)]: name, status: 'logged_out' });

      const changes = await statusChanges(agentId);
      expect(changes.map((c) => [c.old_status, c.agent_status, c.sequence, c.event_source, c.agent_type, c.agent_name])).toEqual([
        ['logged_out', 'available', 1, 'api', type, name],
        ['available', 'logged_out', 2, 'api', type, name],
      ]);
      const logoutDeliveries = (await deliveries(agentId)).filter((d) => d.status_change_id === changes[1].id);
      expect(logoutDeliveries).toEqual([
        {
          id: expect.any(String),
          client_id: clientId,
          agent_id: agentId,
          agent_event_id: out,
          status_change_id: changes[1].id,
          url: 'https://out.example.com/',
          method: 'POST',
          state: 'pending',
          attempts: 0,
        },
      ]);
      expect(JSON.stringify(await sentPayload(logoutDeliveries[0]))).toBe(
        JSON.stringify({
          agent_status: 'logged_out',
          agent_type: type,
          event_source: 'api',
          agent_id: String(agentId),
          [nameField(type)]: name,
        }),
      );
    });
  });

  it('sends nothing when an available agent logs in again', async () => {
    const { clientId, agentId } = await freshAgent('local');
    await createEvent(t, clientId, 'local', agentId, login());
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    const before = await dbState(t);
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200, {
      id: agentId,
      extension_name: agentName('local', 1),
      status: 'available',
    });
    expect(await dbState(t)).toEqual(before);
  });

  it('sends nothing when a new agent, logged out, is logged out', async () => {
    const { clientId, agentId } = await freshAgent('remote');
    await createEvent(t, clientId, 'remote', agentId, logout());
    const before = await dbState(t);
    await setStatus(t, clientId, 'remote', agentId, 'logged_out').expect(200, {
      id: agentId,
      agent_number: agentName('remote', 1),
      status: 'logged_out',
    });
    expect(await dbState(t)).toEqual(before);
  });

  it('records a status change but no delivery for an agent without agent events', async () => {
    const { clientId, agentId } = await freshAgent('local');
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    expect((await statusChanges(agentId)).map((c) => c.agent_status)).toEqual(['available']);
    expect(await deliveries(agentId)).toEqual([]);
  });

  it('numbers the status changes of each agent 1, 2, 3 across login, logout, login', async () => {
    const { clientId, agentId } = await freshAgent('local');
    const other = await createAgent(t, clientId, 'local', 'other');
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    await setStatus(t, clientId, 'local', other, 'available').expect(200);
    await setStatus(t, clientId, 'local', agentId, 'logged_out').expect(200);
    await setStatus(t, clientId, 'local', agentId, 'logged_out').expect(200);
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    expect((await statusChanges(agentId)).map((c) => [c.sequence, c.old_status, c.agent_status])).toEqual([
      [1, 'logged_out', 'available'],
      [2, 'available', 'logged_out'],
      [3, 'logged_out', 'available'],
    ]);
    expect((await statusChanges(other)).map((c) => c.sequence)).toEqual([1]);
    expect(await t.sql('SELECT agent_status, status_sequence FROM agents WHERE id = ?', [agentId])).toEqual([
      { agent_status: 'available', status_sequence: 3 },
    ]);
  });

  it("does not fire another agent's agent events", async () => {
    const { clientId, agentId } = await freshAgent('local');
    const other = await createAgent(t, clientId, 'local', 'other');
    await createEvent(t, clientId, 'local', other, login());
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    expect(await t.sql('SELECT COUNT(*) AS n FROM deliveries WHERE client_id = ?', [clientId])).toEqual([{ n: 0 }]);
  });

  it('puts the new name in the payload when one PUT renames the agent and logs it in', async () => {
    const { clientId, agentId } = await freshAgent('local', '101@old');
    await createEvent(t, clientId, 'local', agentId, login());
    await t
      .http()
      .put(`/client/${clientId}/agent/local/${agentId}`)
      .set(admin)
      .send({ extension_name: '102@new', status: 'available' })
      .expect(200, { id: agentId, extension_name: '102@new', status: 'available' });
    const [delivery] = await deliveries(agentId);
    expect(await deliveryFacts(t, 'd.id = ?', [delivery.id])).toEqual([
      {
        id: delivery.id,
        client_id: clientId,
        url: 'https://hooks.example.com/in',
        method: 'GET',
        agent_status: 'available',
        agent_type: 'local',
        event_source: 'api',
        agent_id: agentId,
        agent_name: '102@new',
      },
    ]);
    expect(await sentPayload(delivery)).toEqual({
      agent_status: 'available',
      agent_type: 'local',
      event_source: 'api',
      agent_id: String(agentId),
      extension_name: '102@new',
    });
    // A later rename does not change what this delivery sends: the name is the one of the moment of its change.
    await t.http().put(`/client/${clientId}/agent/local/${agentId}`).set(admin).send({ extension_name: '103@later' }).expect(200);
    expect((await sentPayload(delivery)).extension_name).toBe('102@new');
  });

  it('uses the agent event as it is at the moment of the change: updated ones fire with their new url and method, deleted ones not at all', async () => {
    const { clientId, agentId } = await freshAgent('remote');
    const kept = await createEvent(t, clientId, 'remote', agentId, login('https://old.example.com/'));
    const removed = await createEvent(t, clientId, 'remote', agentId, login('https://removed.example.com/'));
    const moved = await createEvent(t, clientId, 'remote', agentId, logout());
    await t
      .http()
      .put(`/client/${clientId}/agent/remote/${agentId}/event/${kept}`)
      .set(admin)
      .send({ url: 'https://new.example.com/', method: 'POST' })
      .expect(200);
    await t.http().delete(`/client/${clientId}/agent/remote/${agentId}/event/${removed}`).set(admin).expect(204);
    await t
      .http()
      .put(`/client/${clientId}/agent/remote/${agentId}/event/${moved}`)
      .set(admin)
      .send({ event_type: 'agent-login' })
      .expect(200);
    await setStatus(t, clientId, 'remote', agentId, 'available').expect(200);
    expect((await deliveries(agentId)).map((d) => [d.agent_event_id, d.url, d.method])).toEqual([
      [kept, 'https://new.example.com/', 'POST'],
      [moved, 'https://hooks.example.com/out', 'POST'],
    ]);
  });

  it('keeps the status changes and deliveries of an agent after the agent is deleted', async () => {
    const { clientId, agentId } = await freshAgent('local');
    await createEvent(t, clientId, 'local', agentId, login());
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    await t.http().delete(`/client/${clientId}/agent/local/${agentId}`).set(admin).expect(204);
    expect(await statusChanges(agentId)).toHaveLength(1);
    const rows = await deliveries(agentId);
    // Kept, and no longer sent: deleting the agent cancelled its pending delivery (test/agent-deletion.e2e-spec.ts).
    expect(rows.map((d) => d.state)).toEqual(['dead']);
    // Its payload is still whole (the log shows it, a retry by hand sends it): the status change recorded the name.
    expect(await sentPayload(rows[0])).toEqual({
      agent_status: 'available',
      agent_type: 'local',
      event_source: 'api',
      agent_id: String(agentId),
      extension_name: agentName('local', 1),
    });
  });

  describe('concurrency', () => {
    it('makes exactly one status change and one delivery per matching event of 20 concurrent API logins', async () => {
      const { clientId, agentId, name } = await freshAgent('local');
      const events = [
        await createEvent(t, clientId, 'local', agentId, login('https://one.example.com/')),
        await createEvent(t, clientId, 'local', agentId, login('https://two.example.com/')),
        await createEvent(t, clientId, 'local', agentId, login('https://three.example.com/')),
      ];
      await createEvent(t, clientId, 'local', agentId, logout());
      const responses = await Promise.all(Array.from({ length: 20 }, () => setStatus(t, clientId, 'local', agentId, 'available')));
      for (const response of responses) {
        expect([response.status, response.body]).toEqual([200, { id: agentId, extension_name: name, status: 'available' }]);
      }
      const changes = await statusChanges(agentId);
      expect(changes.map((c) => [c.sequence, c.old_status, c.agent_status, c.event_source])).toEqual([
        [1, 'logged_out', 'available', 'api'],
      ]);
      const rows = await deliveries(agentId);
      expect(rows.map((d) => d.agent_event_id)).toEqual(events);
      expect(new Set(rows.map((d) => d.status_change_id))).toEqual(new Set([changes[0].id]));
    });

    it('makes exactly one status change of 20 concurrent remote logins, 10 from the API and 10 from the PBX', async () => {
      const { clientId, agentId, name } = await freshAgent('remote');
      const eventId = await createEvent(t, clientId, 'remote', agentId, login());
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2
            ? setStatus(t, clientId, 'remote', agentId, 'available')
            : t.http().post('/pbx/agent-command').set(pbx).send({ client_id: clientId, agent_number: name, command: 'login' }),
        ),
      );
      const pbxAnswers = responses.filter((_, i) => i % 2 === 0);
      for (const response of pbxAnswers) {
        expect([response.status, response.body]).toEqual([
          200,
          { agent_id: agentId, agent_type: 'remote', agent_status: 'available', changed: expect.any(Boolean) },
        ]);
      }
      for (const response of responses.filter((_, i) => i % 2 === 1)) {
        expect([response.status, response.body]).toEqual([200, { id: agentId, agent_number: name, status: 'available' }]);
      }
      const changes = await statusChanges(agentId);
      expect(changes).toHaveLength(1);
      expect(pbxAnswers.filter((r) => r.body.changed)).toHaveLength(changes[0].event_source === 'phone' ? 1 : 0);
      const rows = await deliveries(agentId);
      expect(rows.map((d) => [d.agent_event_id, d.status_change_id])).toEqual([[eventId, changes[0].id]]);
      expect(await sentPayload(rows[0])).toEqual({
        agent_status: 'available',
        agent_type: 'remote',
        event_source: changes[0].event_source,
        agent_id: String(agentId),
        agent_number: name,
      });
    });

    it('keeps the sequence gapless and each old_status equal to the previous new status under 30 concurrent logins and logouts', async () => {
      const { clientId, agentId, name } = await freshAgent('local');
      await createEvent(t, clientId, 'local', agentId, login());
      await createEvent(t, clientId, 'local', agentId, logout());
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          const status = i % 2 ? 'available' : 'logged_out';
          return i % 3
            ? setStatus(t, clientId, 'local', agentId, status)
            : t
                .http()
                .post('/pbx/agent-command')
                .set(pbx)
                .send({ client_id: clientId, extension_name: name, command: status === 'available' ? 'login' : 'logout' });
        }),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(30).fill(200));
      const changes = await statusChanges(agentId);
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.map((c) => c.sequence)).toEqual(changes.map((_, i) => i + 1));
      changes.forEach((change, i) => {
        expect(change.old_status).toBe(i === 0 ? 'logged_out' : changes[i - 1].agent_status);
        expect(change.agent_status).not.toBe(change.old_status);
      });
      const [agent] = await t.sql<{ agent_status: string; status_sequence: number }>(
        'SELECT agent_status, status_sequence FROM agents WHERE id = ?',
        [agentId],
      );
      expect(agent).toEqual({ agent_status: changes[changes.length - 1].agent_status, status_sequence: changes.length });
      const rows = await deliveries(agentId);
      expect(rows).toHaveLength(changes.length);
      for (const change of changes) {
        expect([change.agent_type, change.agent_name]).toEqual(['local', name]);
        const [delivery] = rows.filter((d) => d.status_change_id === change.id);
        expect(await sentPayload(delivery)).toEqual({
          agent_status: change.agent_status,
          agent_type: 'local',
          event_source: change.event_source,
          agent_id: String(agentId),
          extension_name: name,
        });
      }
    });
    it('answers agent event creates racing renames, logins and logouts of the agent with 201, never a deadlock or 5xx', async () => {
      const { clientId, agentId } = await freshAgent('local');
      await t.http().put(`/client/${clientId}/limit/`).set(admin).send({ agent_event_limit: 1000 }).expect(200);
      for (let round = 0; round < 10; round++) {
        const responses = await Promise.all([
          t
            .http()
            .post(`/client/${clientId}/agent/local/${agentId}/event/`)
            .set(admin)
            .send(login(`https://race.example.com/${round}/a`)),
          setStatus(t, clientId, 'local', agentId, 'available'),
          t
            .http()
            .post(`/client/${clientId}/agent/local/${agentId}/event/`)
            .set(admin)
            .send(logout(`https://race.example.com/${round}/b`)),
          t
            .http()
            .put(`/client/${clientId}/agent/local/${agentId}`)
            .set(admin)
            .send({ extension_name: `renamed-${round}` }),
          setStatus(t, clientId, 'local', agentId, 'logged_out'),
          t
            .http()
            .post(`/client/${clientId}/agent/local/${agentId}/event/`)
            .set(admin)
            .send(login(`https://race.example.com/${round}/c`)),
        ]);
        expect(responses.map((r) => r.status)).toEqual([201, 200, 201, 200, 200, 201]);
      }
      expect(await t.sql('SELECT COUNT(*) AS n FROM agent_events WHERE agent_id = ?', [agentId])).toEqual([{ n: 30 }]);
    });
  });
  it('gives each delivery of one change its own ULID-shaped id, in the order of the subscriptions, past 32 of them', async () => {
    const { clientId, agentId } = await freshAgent('local');
    await t.http().put(`/client/${clientId}/limit/`).set(admin).send({ agent_event_limit: 100 }).expect(200);
    const events: number[] = [];
    for (let i = 0; i < 40; i++) events.push(await createEvent(t, clientId, 'local', agentId, login(`https://many.example.com/${i}`)));
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    const rows = await t.sql<{ id: string; agent_event_id: number; url: string }>(
      'SELECT id, agent_event_id, url FROM deliveries WHERE agent_id = ? ORDER BY id',
      [agentId],
    );
    expect(rows.map((row) => row.agent_event_id)).toEqual(events);
    expect(rows.map((row) => row.url)).toEqual(events.map((_, i) => `https://many.example.com/${i}`));
    expect(new Set(rows.map((row) => row.id)).size).toBe(40);
    for (const row of rows) expect(row.id).toMatch(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
  it('answers each of many simultaneous changes for itself: agents that are not there get 404, the others change once', async () => {
    const { clientId, agentId: deleted } = await freshAgent('local');
    await t.http().delete(`/client/${clientId}/agent/local/${deleted}`).set(admin).expect(204);
    const others: number[] = [];
    for (let i = 2; i <= 9; i++) others.push(await createAgent(t, clientId, 'local', agentName('local', i)));
    // One agent gone before the others (a batch is sorted by agent id: it comes first), one that never was (last).
    const missing = [deleted, 999_992];
    const targets = [...others, ...missing, ...others];
    const responses = await Promise.all(targets.map((id) => setStatus(t, clientId, 'local', id, 'available')));
    expect(responses.map((response) => response.status)).toEqual(targets.map((id) => (missing.includes(id) ? 404 : 200)));
    for (const [index, id] of targets.entries()) {
      if (missing.includes(id))
        expect(responses[index].body).toMatchObject({ status: 'agent_not_found', message: expect.stringContaining(String(id)) });
      else expect(responses[index].body).toMatchObject({ id, status: 'available' });
    }
    const changes = await t.sql<{ agent_id: number; n: number }>(
      'SELECT agent_id, COUNT(*) AS n FROM status_changes WHERE client_id = ? GROUP BY agent_id ORDER BY agent_id',
      [clientId],
    );
    expect(changes).toEqual(others.map((id) => ({ agent_id: id, n: 1 })));
  });
  it('keeps a name with quotes, a backslash and letters beyond ASCII exactly, and builds the payload as JSON.stringify writes it', async () => {
    const name = 'Zoë "the \\ boss" 000*1@ringme.ru';
    const { clientId, agentId } = await freshAgent('local', name);
    await createEvent(t, clientId, 'local', agentId, login('https://quoted.example.com/in'));
    await setStatus(t, clientId, 'local', agentId, 'available').expect(200);
    const [row] = await deliveries(agentId);
    const [change] = await statusChanges(agentId);
    expect([change.id, change.agent_name]).toEqual([row.status_change_id, name]);
    const payload = {
      agent_status: 'available',
      agent_type: 'local',
      event_source: 'api',
      agent_id: String(agentId),
      extension_name: name,
    };
    const logged = await loggedPayload(t, clientId, row.id);
    expect(logged.text).toContain(`"payload":${JSON.stringify(payload)}`);
  });
});
