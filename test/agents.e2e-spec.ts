import {
  AGENT_TYPES,
  agentName,
  createAgent,
  createClient,
  createEvent,
  dbState,
  login,
  logout,
  nameField,
  otherType,
  type AgentType,
} from './support/api-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

describe('local and remote agents', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('agents');
    await createClient(t, 'a1');
    await createClient(t, 'a2');
    await createClient(t, 'empty');
    await createClient(t, 'list-local');
    await createClient(t, 'list-remote');
    await createClient(t, 'race');
    await t.http().put('/client/race/limit/').set(admin).send({ agent_event_limit: 100_000 }).expect(200);
  });
  afterAll(() => t.close());

  describe.each(AGENT_TYPES)('%s agents', (type: AgentType) => {
    const field = nameField(type);
    const base = `/client/a1/agent/${type}`;
    const n = type === 'local' ? 0 : 500;
    let next = 100;
    const name = (i: number) => agentName(type, n + i);
    const agentNotFound = (id: number | string, client = 'a1') => ({
      message: `There is no ${type} agent ${id} in client ${client}.`,
      status: 'agent_not_found',
    });

    it('creates an agent that is logged out, answering id, name and status', async () => {
      const response = await t
        .http()
        .post(`${base}/`)
        .set(admin)
        .send({ [field]: name(1) })
        .expect(201);
      expect(response.body).toEqual({ id: expect.any(Number), [field]: name(1), status: 'logged_out' });
      const rows = await t.sql(
        'SELECT client_id, agent_type, extension_name, agent_number, agent_status, status_sequence FROM agents WHERE id = ?',
        [response.body.id],
      );
      expect(rows).toEqual([
        {
          client_id: 'a1',
          agent_type: type,
          extension_name: type === 'local' ? name(1) : null,
          agent_number: type === 'remote' ? name(1) : null,
          agent_status: 'logged_out',
          status_sequence: 0,
        },
      ]);
    });

    it('refuses a second agent with the same name in the client with 409 agent_exists', async () => {
      const before = await dbState(t);
      await t
        .http()
        .post(`${base}/`)
        .set(admin)
        .send({ [field]: name(1) })
        .expect(409, { message: `An agent with ${field} ${name(1)} already exists in this client.`, status: 'agent_exists' });
      expect(await dbState(t)).toEqual(before);
    });

    it('accepts the same name in another client', async () => {
      const id = await createAgent(t, 'a2', type, name(1));
      expect(await t.sql('SELECT client_id FROM agents WHERE id = ?', [id])).toEqual([{ client_id: 'a2' }]);
    });

    it("lists the client's agents of this type only, in id order", async () => {
      const client = `list-${type}`;
      const first = await createAgent(t, client, type, name(1));
      await createAgent(t, client, otherType(type), agentName(otherType(type), 1));
      const second = await createAgent(t, client, type, name(2));
      await createAgent(t, 'a2', type, name(2));
      await t
        .http()
        .get(`/client/${client}/agent/${type}/`)
        .set(admin)
        .expect(200, [
          { id: first, [field]: name(1), status: 'logged_out' },
          { id: second, [field]: name(2), status: 'logged_out' },
        ]);
    });

    it('lists nothing for a client without agents', async () => {
      await t.http().get(`/client/empty/agent/${type}/`).set(admin).expect(200, []);
    });

    it('gets one agent', async () => {
      const id = await createAgent(t, 'a1', type, name(3));
      await t
        .http()
        .get(`${base}/${id}`)
        .set(admin)
        .expect(200, { id, [field]: name(3), status: 'logged_out' });
    });

    it('answers 404 agent_not_found for an agent of the other type, on GET, PUT and DELETE', async () => {
      const other = await createAgent(t, 'a1', otherType(type), agentName(otherType(type), 900 + n));
      const before = await dbState(t);
      await t.http().get(`${base}/${other}`).set(admin).expect(404, agentNotFound(other));
      await t.http().put(`${base}/${other}`).set(admin).send({ status: 'available' }).expect(404, agentNotFound(other));
      await t.http().delete(`${base}/${other}`).set(admin).expect(404, agentNotFound(other));
      expect(await dbState(t)).toEqual(before);
    });

    it('answers 404 agent_not_found for an agent of another client', async () => {
      const [foreign] = await t.sql<{ id: number }>('SELECT id FROM agents WHERE client_id = ? AND agent_type = ?', ['a2', type]);
      await t.http().get(`${base}/${foreign.id}`).set(admin).expect(404, agentNotFound(foreign.id));
      await t.http().delete(`${base}/${foreign.id}`).set(admin).expect(404, agentNotFound(foreign.id));
      expect(await t.sql('SELECT COUNT(*) AS n FROM agents WHERE id = ?', [foreign.id])).toEqual([{ n: 1 }]);
    });

    it('answers 404 agent_not_found for an agent id that does not exist', async () => {
      await t.http().get(`${base}/4294967295`).set(admin).expect(404, agentNotFound(4294967295));
    });

    it('answers 404 client_not_found on every agent endpoint of an unknown client', async () => {
      const notFound = { message: 'Client ghost does not exist.', status: 'client_not_found' };
      await t
        .http()
        .post(`/client/ghost/agent/${type}/`)
        .set(admin)
        .send({ [field]: name(4) })
        .expect(404, notFound);
      await t.http().get(`/client/ghost/agent/${type}/`).set(admin).expect(404, notFound);
      await t.http().get(`/client/ghost/agent/${type}/1`).set(admin).expect(404, notFound);
      await t.http().put(`/client/ghost/agent/${type}/1`).set(admin).send({ status: 'available' }).expect(404, notFound);
      await t.http().delete(`/client/ghost/agent/${type}/1`).set(admin).expect(404, notFound);
      expect(await t.sql("SELECT COUNT(*) AS n FROM agents WHERE client_id = 'ghost'")).toEqual([{ n: 0 }]);
    });

    it('renames an agent with PUT', async () => {
      const id = await createAgent(t, 'a1', type, name(5));
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({ [field]: name(6) })
        .expect(200, { id, [field]: name(6), status: 'logged_out' });
      const [row] = await t.sql<Record<string, string>>(`SELECT ${field} AS name FROM agents WHERE id = ?`, [id]);
      expect(row.name).toBe(name(6));
    });

    it('refuses to rename an agent to the name of another agent of the client, changing nothing', async () => {
      const id = await createAgent(t, 'a1', type, name(7));
      const before = await dbState(t);
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({ [field]: name(1), status: 'available' })
        .expect(409, { message: `An agent with ${field} ${name(1)} already exists in this client.`, status: 'agent_exists' });
      expect(await dbState(t)).toEqual(before);
    });

    it('keeps working after refused renames: every status change that follows goes through', async () => {
      const id = await createAgent(t, 'a1', type, name(11));
      for (let round = 0; round < 20; round++) {
        await t
          .http()
          .put(`${base}/${id}`)
          .set(admin)
          .send({ [field]: name(1) })
          .expect(409);
        const status = round % 2 === 0 ? 'available' : 'logged_out';
        await t
          .http()
          .put(`${base}/${id}`)
          .set(admin)
          .send({ status })
          .expect(200, { id, [field]: name(11), status });
      }
      const [row] = await t.sql<Record<string, unknown>>('SELECT agent_status, status_sequence FROM agents WHERE id = ?', [id]);
      expect(row).toEqual({ agent_status: 'logged_out', status_sequence: 20 });
      expect(await t.sql('SELECT COUNT(*) AS n FROM status_changes WHERE agent_id = ?', [id])).toEqual([{ n: 20 }]);
    });

    it('changes the status with PUT and answers the agent with its new status', async () => {
      const id = await createAgent(t, 'a1', type, name(8));
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({ status: 'available' })
        .expect(200, { id, [field]: name(8), status: 'available' });
      await t
        .http()
        .get(`${base}/${id}`)
        .set(admin)
        .expect(200, { id, [field]: name(8), status: 'available' });
      await t
        .http()
        .put(`${base}/${id}/`)
        .set(admin)
        .send({ status: 'logged_out' })
        .expect(200, { id, [field]: name(8), status: 'logged_out' });
      expect(await t.sql('SELECT agent_status, status_sequence FROM agents WHERE id = ?', [id])).toEqual([
        { agent_status: 'logged_out', status_sequence: 2 },
      ]);
    });

    it('answers the agent unchanged for an empty PUT', async () => {
      const id = await createAgent(t, 'a1', type, name(9));
      const before = await dbState(t);
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({})
        .expect(200, { id, [field]: name(9), status: 'logged_out' });
      expect(await dbState(t)).toEqual(before);
    });

    it.each([
      ['a status of "AVAILABLE"', { status: 'AVAILABLE' }, 'status'],
      ['a status of "busy"', { status: 'busy' }, 'status'],
      ['a numeric status', { status: 1 }, 'status'],
      ['a null name', { [field]: null }, field],
      ['an empty name', { [field]: '' }, field],
      ['a numeric name', { [field]: 12345 }, field],
      [
        'the name field of the other agent type',
        { [nameField(otherType(type))]: agentName(otherType(type), 1) },
        nameField(otherType(type)),
      ],
      ['an unknown field', { agent_status: 'available' }, 'agent_status'],
      ['an id in the body', { id: 1 }, 'id'],
    ])('refuses a PUT with %s: 400 validation_failed naming the field, agent unchanged', async (_label, body, bad) => {
      const id = await createAgent(t, 'a1', type, name(next++));
      const before = await dbState(t);
      const response = await t.http().put(`${base}/${id}`).set(admin).send(body).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining(bad), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });

    it('deletes an agent with 204 and no body, and its agent events with it', async () => {
      const id = await createAgent(t, 'a1', type, name(10));
      await createEvent(t, 'a1', type, id, login());
      await createEvent(t, 'a1', type, id, logout());
      const { body: limitBefore } = await t.http().get('/client/a1/limit/').set(admin).expect(200);
      const response = await t.http().delete(`${base}/${id}`).set(admin).expect(204);
      expect(response.text).toBe('');
      expect(await t.sql('SELECT COUNT(*) AS n FROM agents WHERE id = ?', [id])).toEqual([{ n: 0 }]);
      expect(await t.sql('SELECT COUNT(*) AS n FROM agent_events WHERE agent_id = ?', [id])).toEqual([{ n: 0 }]);
      await t
        .http()
        .get('/client/a1/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 20, agent_event_count: limitBefore.agent_event_count - 2, rate_limit_per_hour: 3600 });
      await t.http().get(`${base}/${id}`).set(admin).expect(404, agentNotFound(id));
      await t.http().get(`${base}/${id}/event/`).set(admin).expect(404, agentNotFound(id));
      await t.http().delete(`${base}/${id}`).set(admin).expect(404, agentNotFound(id));
    });
  });

  describe('names', () => {
    it.each(['000*094@ringme.ru', 'e'.repeat(255), 'Пётр 101'])('accepts the extension name %j', async (extension) => {
      const id = await createAgent(t, 'empty', 'local', extension);
      expect(await t.sql('SELECT extension_name FROM agents WHERE id = ?', [id])).toEqual([{ extension_name: extension }]);
    });

    it.each([
      ['256 characters', 'e'.repeat(256)],
      ['a newline', '101\n102'],
      ['a NUL character', '101\u0000'],
      ['10 kB', 'x'.repeat(10_240)],
    ])('refuses an extension name with %s', async (_label, extension) => {
      const before = await dbState(t);
      const response = await t.http().post('/client/empty/agent/local/').set(admin).send({ extension_name: extension }).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining('extension_name'), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });

    it.each(['74951234567', '+74951234567', '1', `+${'9'.repeat(31)}`])('accepts the agent number %j', async (number) => {
      const id = await createAgent(t, 'empty', 'remote', number);
      expect(await t.sql('SELECT agent_number FROM agents WHERE id = ?', [id])).toEqual([{ agent_number: number }]);
    });

    it.each([
      ['letters', 'abc'],
      ['a lone +', '+'],
      ['an empty string', ''],
      ['32 digits', '9'.repeat(32)],
      ['spaces', '+7 495 123'],
      ['a + inside', '7+495'],
      ['a number type', 74951234567],
    ])('refuses an agent number with %s', async (_label, number) => {
      const before = await dbState(t);
      const response = await t.http().post('/client/empty/agent/remote/').set(admin).send({ agent_number: number }).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining('agent_number'), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });

    it('refuses a local agent created with agent_number, and a remote one with extension_name', async () => {
      const before = await dbState(t);
      const local = await t.http().post('/client/empty/agent/local/').set(admin).send({ agent_number: '+1' }).expect(400);
      expect(local.body).toEqual({ message: expect.stringContaining('agent_number'), status: 'validation_failed' });
      const remote = await t.http().post('/client/empty/agent/remote/').set(admin).send({ extension_name: '101' }).expect(400);
      expect(remote.body).toEqual({ message: expect.stringContaining('extension_name'), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });

    it('refuses an agent created with a status', async () => {
      const before = await dbState(t);
      const response = await t
        .http()
        .post('/client/empty/agent/local/')
        .set(admin)
        .send({ extension_name: '555', status: 'available' })
        .expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining('status'), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });
  });
  describe('concurrency', () => {
    it('creates exactly one of 10 concurrent agents with the same extension name; the others get 409 agent_exists', async () => {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => t.http().post('/client/race/agent/local/').set(admin).send({ extension_name: 'same' })),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
      expect(await t.sql("SELECT COUNT(*) AS n FROM agents WHERE client_id = 'race' AND extension_name = 'same'")).toEqual([{ n: 1 }]);
    });

    it('deletes an agent once when 5 deletes race: one 204, four 404 agent_not_found', async () => {
      const id = await createAgent(t, 'race', 'remote', '+555');
      const responses = await Promise.all(Array.from({ length: 5 }, () => t.http().delete(`/client/race/agent/remote/${id}`).set(admin)));
      expect(responses.map((r) => r.status).sort()).toEqual([204, 404, 404, 404, 404]);
    });

    it('deletes an agent event once when 5 deletes race: one 204, four 404 event_not_found', async () => {
      const id = await createAgent(t, 'race', 'local', 'del-event');
      const eventId = await createEvent(t, 'race', 'local', id, login());
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => t.http().delete(`/client/race/agent/local/${id}/event/${eventId}`).set(admin)),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([204, 404, 404, 404, 404]);
    });

    it("answers every request racing an agent's deletion with success or 404, never 5xx, and a login answered 200 really happened", async () => {
      for (let round = 0; round < 30; round++) {
        const name = `gone${round}`;
        const id = await createAgent(t, 'race', 'local', name);
        await createEvent(t, 'race', 'local', id, login());
        const requests = [
          () => t.http().post(`/client/race/agent/local/${id}/event/`).set(admin).send(login()),
          () => t.http().post(`/client/race/agent/local/${id}/event/`).set(admin).send(logout()),
          () => t.http().put(`/client/race/agent/local/${id}`).set(admin).send({ status: 'available' }),
          () => t.http().post('/pbx/agent-command').set(pbx).send({ client_id: 'race', extension_name: name, command: 'login' }),
          () =>
            t
              .http()
              .put(`/client/race/agent/local/${id}`)
              .set(admin)
              .send({ extension_name: `${name}-renamed` }),
        ];
        const slot = round % (requests.length + 1);
        const order = [
          ...requests.slice(0, slot),
          () => t.http().delete(`/client/race/agent/local/${id}`).set(admin),
          ...requests.slice(slot),
        ];
        const responses = await Promise.all(order.map((send) => send()));
        const [deleted] = responses.splice(slot, 1);
        const [create1, create2, putStatus, phone, rename] = responses;
        expect(deleted.status).toBe(204);
        expect(
          [create1, create2, rename].filter((r) => r.status !== 201 && r.status !== 200 && r.status !== 404).map((r) => [r.status, r.body]),
        ).toEqual([]);
        expect([putStatus.status, phone.status].filter((s) => s !== 200 && s !== 404)).toEqual([]);
        for (const response of [create1, create2, putStatus, phone, rename].filter((r) => r.status === 404)) {
          expect(response.body).toEqual({ message: expect.any(String), status: 'agent_not_found' });
        }
        const changes = await t.sql<{ event_source: string }>('SELECT event_source FROM status_changes WHERE agent_id = ?', [id]);
        const loggedIn = putStatus.status === 200 || phone.status === 200;
        expect(changes).toHaveLength(loggedIn ? 1 : 0);
        if (phone.status === 200) expect(changes[0].event_source).toBe(phone.body.changed ? 'phone' : 'api');
        expect(await t.sql('SELECT COUNT(*) AS n FROM agent_events WHERE agent_id = ?', [id])).toEqual([{ n: 0 }]);
      }
    });
  });
});
