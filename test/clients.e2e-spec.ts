import { createAgent, createClient, createEvent, dbState, login, logout } from './support/api-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

describe('clients and their limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('clients');
  });
  afterAll(() => t.close());

  describe('POST /client/', () => {
    it('creates a client with the given id and name, with the default agent event limit of 20', async () => {
      await t.http().post('/client/').set(admin).send({ id: '12', name: 'Ringme' }).expect(201, { id: '12', name: 'Ringme' });
      const rows = await t.sql('SELECT id, name, agent_event_limit FROM clients WHERE id = ?', ['12']);
      expect(rows).toEqual([{ id: '12', name: 'Ringme', agent_event_limit: 20 }]);
    });

    it('makes up an id when none is given', async () => {
      const response = await t.http().post('/client/').set(admin).send({ name: 'No id' }).expect(201);
      expect(response.body).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), name: 'No id' });
      const rows = await t.sql('SELECT name FROM clients WHERE id = ?', [response.body.id]);
      expect(rows).toEqual([{ name: 'No id' }]);
    });

    it('refuses a second client with the same id with 409 client_exists and keeps the first one', async () => {
      await t.http().post('/client/').set(admin).send({ id: 'dup', name: 'First' }).expect(201);
      const before = await dbState(t);
      await t
        .http()
        .post('/client/')
        .set(admin)
        .send({ id: 'dup', name: 'Second' })
        .expect(409, { message: 'Client dup already exists.', status: 'client_exists' });
      expect(await dbState(t)).toEqual(before);
      expect(await t.sql('SELECT name FROM clients WHERE id = ?', ['dup'])).toEqual([{ name: 'First' }]);
    });

    it.each([
      ['no name', { id: 'c-noname' }, 'name'],
      ['an empty name', { id: 'c-empty', name: '' }, 'name'],
      ['a name of 256 characters', { id: 'c-long', name: 'n'.repeat(256) }, 'name'],
      ['a numeric name', { id: 'c-num', name: 42 }, 'name'],
      ['an id with a space', { id: 'a b', name: 'x' }, 'id'],
      ['an id of 65 characters', { id: 'i'.repeat(65), name: 'x' }, 'id'],
      ['a numeric id', { id: 12, name: 'x' }, 'id'],
      ['an unknown field', { id: 'c-extra', name: 'x', agent_event_limit: 5 }, 'agent_event_limit'],
    ])('refuses a client with %s: 400 validation_failed naming the field', async (_label, body, field) => {
      const before = await dbState(t);
      const response = await t.http().post('/client/').set(admin).send(body).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining(field), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });
  });

  describe('GET /client/{client_id}', () => {
    it('answers the client with its id and name', async () => {
      await t.http().get('/client/12').set(admin).expect(200, { id: '12', name: 'Ringme' });
    });

    it('answers 404 client_not_found for an unknown client', async () => {
      await t.http().get('/client/nope').set(admin).expect(404, { message: 'Client nope does not exist.', status: 'client_not_found' });
    });

    it('answers 400 validation_failed for a client id that cannot exist', async () => {
      const response = await t.http().get('/client/a%20b').set(admin).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining('client_id'), status: 'validation_failed' });
    });
  });

  describe('limits', () => {
    beforeAll(async () => {
      await createClient(t, 'lim');
      await createClient(t, 'other');
    });

    it('tells the default limit of 20 and a count of 0 for a new client', async () => {
      await t
        .http()
        .get('/client/lim/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 20, agent_event_count: 0, rate_limit_per_hour: 3600 });
    });

    it("counts the client's agent events of both agent types, and only this client's", async () => {
      const local = await createAgent(t, 'lim', 'local', '100@lim');
      const remote = await createAgent(t, 'lim', 'remote', '+100');
      await createEvent(t, 'lim', 'local', local, login());
      await createEvent(t, 'lim', 'local', local, logout());
      await createEvent(t, 'lim', 'remote', remote, login());
      const foreign = await createAgent(t, 'other', 'local', '100@lim');
      await createEvent(t, 'other', 'local', foreign, login());
      await t
        .http()
        .get('/client/lim/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 20, agent_event_count: 3, rate_limit_per_hour: 3600 });
      await t
        .http()
        .get('/client/other/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 20, agent_event_count: 1, rate_limit_per_hour: 3600 });
    });

    it('changes the limit with PUT and answers the new limit with the current count', async () => {
      await t
        .http()
        .put('/client/lim/limit/')
        .set(admin)
        .send({ agent_event_limit: 5 })
        .expect(200, { agent_event_limit: 5, agent_event_count: 3, rate_limit_per_hour: 3600 });
      expect(await t.sql('SELECT agent_event_limit FROM clients WHERE id = ?', ['lim'])).toEqual([{ agent_event_limit: 5 }]);
      await t
        .http()
        .get('/client/lim/limit')
        .set(admin)
        .expect(200, { agent_event_limit: 5, agent_event_count: 3, rate_limit_per_hour: 3600 });
    });

    it('accepts a limit below the current count, and then refuses every new agent event', async () => {
      await t
        .http()
        .put('/client/lim/limit')
        .set(admin)
        .send({ agent_event_limit: 0 })
        .expect(200, { agent_event_limit: 0, agent_event_count: 3, rate_limit_per_hour: 3600 });
      const [agent] = await t.sql<{ id: number }>("SELECT id FROM agents WHERE client_id = 'lim' AND agent_type = 'local'");
      await t
        .http()
        .post(`/client/lim/agent/local/${agent.id}/event/`)
        .set(admin)
        .send(login())
        .expect(403, { message: 'Client lim has 3 agent events, its limit is 0.', status: 'limit_exceeded' });
      expect(await t.sql("SELECT COUNT(*) AS n FROM agent_events WHERE client_id = 'lim'")).toEqual([{ n: 3 }]);
    });

    it('answers 404 client_not_found for the limit of an unknown client, read or written', async () => {
      const notFound = { message: 'Client ghost does not exist.', status: 'client_not_found' };
      await t.http().get('/client/ghost/limit/').set(admin).expect(404, notFound);
      await t.http().put('/client/ghost/limit/').set(admin).send({ agent_event_limit: 3 }).expect(404, notFound);
      expect(await t.sql("SELECT COUNT(*) AS n FROM clients WHERE id = 'ghost'")).toEqual([{ n: 0 }]);
    });

    it.each([
      ['a string', { agent_event_limit: '5' }],
      ['a negative number', { agent_event_limit: -1 }],
      ['a fraction', { agent_event_limit: 1.5 }],
      ['more than a million', { agent_event_limit: 1_000_001 }],
      ['null', { agent_event_limit: null }],
      ['nothing', {}],
      ['an unknown field beside it', { agent_event_limit: 5, agent_event_count: 0, rate_limit_per_hour: 3600 }],
    ])('refuses a limit that is %s: 400 validation_failed, limit unchanged', async (_label, body) => {
      const before = await dbState(t);
      const response = await t.http().put('/client/other/limit/').set(admin).send(body).expect(400);
      expect(response.body).toEqual({ message: expect.stringMatching(/agent_event_(limit|count)/), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });

    it('lets only the admin change a limit: the PBX token gets 403 access_denied', async () => {
      await t
        .http()
        .put('/client/other/limit/')
        .set(pbx)
        .send({ agent_event_limit: 1 })
        .expect(403, { message: 'This token may not use this endpoint.', status: 'access_denied' });
      expect(await t.sql("SELECT agent_event_limit FROM clients WHERE id = 'other'")).toEqual([{ agent_event_limit: 20 }]);
    });
  });
});
