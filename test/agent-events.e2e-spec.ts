import {
  AGENT_TYPES,
  agentName,
  createAgent,
  createClient,
  createEvent,
  dbState,
  login,
  logout,
  otherType,
  type AgentType,
} from './support/api-fixtures.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

const eventRows = (t: TestApp, where: string, params: unknown[]) =>
  t.sql(`SELECT id, client_id, agent_id, url, method, event_type FROM agent_events WHERE ${where} ORDER BY id`, params);

describe('agent events (subscriptions) of local and remote agents', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('agent_events');
    await createClient(t, 'e1');
    await createClient(t, 'e2');
    await t.http().put('/client/e1/limit/').set(admin).send({ agent_event_limit: 1000 }).expect(200);
  });
  afterAll(() => t.close());

  describe.each(AGENT_TYPES)('%s agents', (type: AgentType) => {
    let agent: number;
    let sibling: number;
    let base: string;
    const agentNotFound = (id: number, client = 'e1') => ({
      message: `There is no ${type} agent ${id} in client ${client}.`,
      status: 'agent_not_found',
    });

    beforeAll(async () => {
      agent = await createAgent(t, 'e1', type, agentName(type, 1));
      sibling = await createAgent(t, 'e1', type, agentName(type, 2));
      base = `/client/e1/agent/${type}/${agent}/event`;
    });

    it('adds an agent event and answers exactly url, method, event_type and id', async () => {
      const response = await t
        .http()
        .post(`${base}/`)
        .set(admin)
        .send({ event_type: 'agent-login', method: 'GET', url: 'https://hooks.example.com/fordel/show.php' })
        .expect(201);
      expect(response.body).toEqual({
        url: 'https://hooks.example.com/fordel/show.php',
        method: 'GET',
        event_type: 'agent-login',
        id: expect.any(Number),
      });
      expect(Object.keys(response.body)).toEqual(['url', 'method', 'event_type', 'id']);
      expect(await eventRows(t, 'id = ?', [response.body.id])).toEqual([
        {
          id: response.body.id,
          client_id: 'e1',
          agent_id: agent,
          url: 'https://hooks.example.com/fordel/show.php',
          method: 'GET',
          event_type: 'agent-login',
        },
      ]);
    });

    it('keeps a URL with its own query string, port and path exactly as given', async () => {
      const url = 'http://hooks.example.com:8080/a/b.php?a=1&b=%20x#frag';
      const id = await createEvent(t, 'e1', type, agent, { url, method: 'POST', event_type: 'agent-logout' });
      await t.http().get(`${base}/${id}`).set(admin).expect(200, { url, method: 'POST', event_type: 'agent-logout', id });
    });

    it("lists the agent's agent events in id order, and not those of other agents", async () => {
      await createEvent(t, 'e1', type, sibling, login('https://sibling.example.com/'));
      const rows = await eventRows(t, 'agent_id = ?', [agent]);
      expect(rows).toHaveLength(2);
      const response = await t.http().get(`${base}/`).set(admin).expect(200);
      expect(response.body).toEqual(rows.map((row) => ({ url: row.url, method: row.method, event_type: row.event_type, id: row.id })));
    });

    it('lists nothing for an agent without agent events', async () => {
      const bare = await createAgent(t, 'e1', type, agentName(type, 3));
      await t.http().get(`/client/e1/agent/${type}/${bare}/event/`).set(admin).expect(200, []);
    });

    it('gets one agent event', async () => {
      const id = await createEvent(t, 'e1', type, agent, logout('https://one.example.com/x'));
      await t
        .http()
        .get(`${base}/${id}`)
        .set(admin)
        .expect(200, { url: 'https://one.example.com/x', method: 'POST', event_type: 'agent-logout', id });
    });

    it('updates only the fields given and answers the whole agent event', async () => {
      const id = await createEvent(t, 'e1', type, agent, login('https://before.example.com/'));
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({ method: 'POST' })
        .expect(200, { url: 'https://before.example.com/', method: 'POST', event_type: 'agent-login', id });
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({ url: 'https://after.example.com/p', event_type: 'agent-logout', method: 'GET' })
        .expect(200, { url: 'https://after.example.com/p', method: 'GET', event_type: 'agent-logout', id });
      expect(await eventRows(t, 'id = ?', [id])).toEqual([
        { id, client_id: 'e1', agent_id: agent, url: 'https://after.example.com/p', method: 'GET', event_type: 'agent-logout' },
      ]);
    });

    it('answers an agent event unchanged for an empty PUT', async () => {
      const id = await createEvent(t, 'e1', type, agent, login('https://same.example.com/'));
      const before = await dbState(t);
      await t
        .http()
        .put(`${base}/${id}`)
        .set(admin)
        .send({})
        .expect(200, { url: 'https://same.example.com/', method: 'GET', event_type: 'agent-login', id });
      expect(await dbState(t)).toEqual(before);
    });

    it('deletes an agent event with 204 and no body; it is then not found', async () => {
      const id = await createEvent(t, 'e1', type, agent, login('https://gone.example.com/'));
      const response = await t.http().delete(`${base}/${id}`).set(admin).expect(204);
      expect(response.text).toBe('');
      expect(await eventRows(t, 'id = ?', [id])).toEqual([]);
      const notFound = { message: `Agent ${agent} has no agent event ${id}.`, status: 'event_not_found' };
      await t.http().get(`${base}/${id}`).set(admin).expect(404, notFound);
      await t.http().put(`${base}/${id}`).set(admin).send({ method: 'POST' }).expect(404, notFound);
      await t.http().delete(`${base}/${id}`).set(admin).expect(404, notFound);
    });

    it('answers 404 event_not_found for an agent event of another agent, and changes nothing', async () => {
      const foreign = await createEvent(t, 'e1', type, sibling, login('https://sibling.example.com/2'));
      const before = await dbState(t);
      const notFound = { message: `Agent ${agent} has no agent event ${foreign}.`, status: 'event_not_found' };
      await t.http().get(`${base}/${foreign}`).set(admin).expect(404, notFound);
      await t.http().put(`${base}/${foreign}`).set(admin).send({ method: 'POST' }).expect(404, notFound);
      await t.http().delete(`${base}/${foreign}`).set(admin).expect(404, notFound);
      expect(await dbState(t)).toEqual(before);
    });

    it('answers 404 agent_not_found on all five operations for an agent of the other type, even with its own event id', async () => {
      const other = await createAgent(t, 'e1', otherType(type), agentName(otherType(type), 50));
      const otherEvent = await createEvent(t, 'e1', otherType(type), other, login());
      const path = `/client/e1/agent/${type}/${other}/event`;
      const before = await dbState(t);
      await t.http().post(`${path}/`).set(admin).send(login()).expect(404, agentNotFound(other));
      await t.http().get(`${path}/`).set(admin).expect(404, agentNotFound(other));
      await t.http().get(`${path}/${otherEvent}`).set(admin).expect(404, agentNotFound(other));
      await t.http().put(`${path}/${otherEvent}`).set(admin).send({ method: 'POST' }).expect(404, agentNotFound(other));
      await t.http().delete(`${path}/${otherEvent}`).set(admin).expect(404, agentNotFound(other));
      expect(await dbState(t)).toEqual(before);
    });

    it('answers 404 agent_not_found for the agent of another client, even with its own event id', async () => {
      const foreignAgent = await createAgent(t, 'e2', type, agentName(type, 1));
      const foreignEvent = await createEvent(t, 'e2', type, foreignAgent, login());
      const path = `/client/e1/agent/${type}/${foreignAgent}/event`;
      const before = await dbState(t);
      await t.http().post(`${path}/`).set(admin).send(login()).expect(404, agentNotFound(foreignAgent));
      await t.http().get(`${path}/`).set(admin).expect(404, agentNotFound(foreignAgent));
      await t.http().get(`${path}/${foreignEvent}`).set(admin).expect(404, agentNotFound(foreignAgent));
      await t.http().put(`${path}/${foreignEvent}`).set(admin).send({ method: 'POST' }).expect(404, agentNotFound(foreignAgent));
      await t.http().delete(`${path}/${foreignEvent}`).set(admin).expect(404, agentNotFound(foreignAgent));
      expect(await dbState(t)).toEqual(before);
    });

    it('answers 404 agent_not_found for an agent that does not exist', async () => {
      await t.http().get(`/client/e1/agent/${type}/999999/event/`).set(admin).expect(404, agentNotFound(999999));
      await t.http().post(`/client/e1/agent/${type}/999999/event/`).set(admin).send(login()).expect(404, agentNotFound(999999));
      expect(await eventRows(t, 'agent_id = ?', [999999])).toEqual([]);
    });

    it('answers 404 client_not_found on all five operations for an unknown client', async () => {
      const notFound = { message: 'Client ghost does not exist.', status: 'client_not_found' };
      const path = `/client/ghost/agent/${type}/${agent}/event`;
      await t.http().post(`${path}/`).set(admin).send(login()).expect(404, notFound);
      await t.http().get(`${path}/`).set(admin).expect(404, notFound);
      await t.http().get(`${path}/1`).set(admin).expect(404, notFound);
      await t.http().put(`${path}/1`).set(admin).send({ method: 'POST' }).expect(404, notFound);
      await t.http().delete(`${path}/1`).set(admin).expect(404, notFound);
      expect(await eventRows(t, "client_id = 'ghost'", [])).toEqual([]);
    });

    it.each([
      ['loopback IPv4', 'http://127.0.0.1/x'],
      ['another loopback IPv4', 'https://127.8.9.10:8443/'],
      ['private 10/8', 'http://10.0.0.1/'],
      ['private 192.168/16', 'http://192.168.1.20/hook'],
      ['private 172.16/12', 'http://172.16.0.1/'],
      ['loopback IPv6', 'http://[::1]/'],
      ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
      ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data'],
      ['the unspecified address', 'http://0.0.0.0/'],
      ['localhost', 'http://localhost:3000/'],
    ])('refuses a target on %s with 400 target_not_allowed, on create and update', async (_label, url) => {
      const id = await createEvent(t, 'e1', type, agent, login('https://public.example.com/'));
      const before = await dbState(t);
      const created = await t.http().post(`${base}/`).set(admin).send(login(url)).expect(400);
      expect(created.body).toEqual({ message: expect.stringContaining('not allowed'), status: 'target_not_allowed' });
      const updated = await t.http().put(`${base}/${id}`).set(admin).send({ url }).expect(400);
      expect(updated.body).toEqual({ message: expect.stringContaining('not allowed'), status: 'target_not_allowed' });
      expect(await dbState(t)).toEqual(before);
    });

    it('accepts a URL of exactly 2048 characters and refuses one of 2049', async () => {
      const prefix = 'https://long.example.com/';
      const url2048 = prefix + 'a'.repeat(2048 - prefix.length);
      const id = await createEvent(t, 'e1', type, agent, login(url2048));
      expect(await t.sql('SELECT CHAR_LENGTH(url) AS n FROM agent_events WHERE id = ?', [id])).toEqual([{ n: 2048 }]);
      const before = await dbState(t);
      const response = await t
        .http()
        .post(`${base}/`)
        .set(admin)
        .send(login(url2048 + 'a'))
        .expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining('url'), status: 'validation_failed' });
      expect(await dbState(t)).toEqual(before);
    });
  });

  describe('the limit', () => {
    it('refuses an agent event past the limit with 403 limit_exceeded and writes nothing', async () => {
      await createClient(t, 'full');
      await t.http().put('/client/full/limit/').set(admin).send({ agent_event_limit: 2 }).expect(200);
      const local = await createAgent(t, 'full', 'local', '101');
      const remote = await createAgent(t, 'full', 'remote', '+101');
      await createEvent(t, 'full', 'local', local, login());
      await createEvent(t, 'full', 'remote', remote, login());
      const before = await dbState(t);
      const refused = { message: 'Client full has 2 agent events, its limit is 2.', status: 'limit_exceeded' };
      await t.http().post(`/client/full/agent/local/${local}/event/`).set(admin).send(logout()).expect(403, refused);
      await t.http().post(`/client/full/agent/remote/${remote}/event/`).set(admin).send(logout()).expect(403, refused);
      expect(await dbState(t)).toEqual(before);
      await t
        .http()
        .get('/client/full/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 2, agent_event_count: 2, rate_limit_per_hour: 3600 });
    });

    it('lets a client create again once an agent event is deleted', async () => {
      const [row] = await t.sql<{ id: number; agent_id: number }>(
        "SELECT id, agent_id FROM agent_events WHERE client_id = 'full' ORDER BY id LIMIT 1",
      );
      await t.http().delete(`/client/full/agent/local/${row.agent_id}/event/${row.id}`).set(admin).expect(204);
      await t.http().post(`/client/full/agent/local/${row.agent_id}/event/`).set(admin).send(logout()).expect(201);
      await t
        .http()
        .get('/client/full/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 2, agent_event_count: 2, rate_limit_per_hour: 3600 });
    });

    it('frees the limit when an agent with agent events is deleted', async () => {
      const [row] = await t.sql<{ id: number }>("SELECT id FROM agents WHERE client_id = 'full' AND agent_type = 'remote'");
      await t.http().delete(`/client/full/agent/remote/${row.id}`).set(admin).expect(204);
      await t
        .http()
        .get('/client/full/limit/')
        .set(admin)
        .expect(200, { agent_event_limit: 2, agent_event_count: 1, rate_limit_per_hour: 3600 });
    });

    it.each([2, 3, 5])(
      'creates exactly one of %i concurrent agent events at one below the limit; the rest get 403 limit_exceeded',
      async (parallel) => {
        const client = `race${parallel}`;
        await createClient(t, client);
        const agents = [await createAgent(t, client, 'local', '201'), await createAgent(t, client, 'remote', '+201')];
        await createEvent(t, client, 'local', agents[0], login());
        await createEvent(t, client, 'remote', agents[1], login());
        await t
          .http()
          .put(`/client/${client}/limit/`)
          .set(admin)
          .send({ agent_event_limit: 3 })
          .expect(200, { agent_event_limit: 3, agent_event_count: 2, rate_limit_per_hour: 3600 });
        const responses = await Promise.all(
          Array.from({ length: parallel }, (_, i) =>
            t
              .http()
              .post(`/client/${client}/agent/${i % 2 ? 'remote' : 'local'}/${agents[i % 2]}/event/`)
              .set(admin)
              .send(logout(`https://race.example.com/${i}`)),
          ),
        );
        expect(responses.map((r) => r.status).sort()).toEqual([201, ...Array(parallel - 1).fill(403)]);
        for (const refused of responses.filter((r) => r.status === 403)) {
          expect(refused.body).toEqual({ message: `Client ${client} has 3 agent events, its limit is 3.`, status: 'limit_exceeded' });
        }
        expect(await t.sql('SELECT COUNT(*) AS n FROM agent_events WHERE client_id = ?', [client])).toEqual([{ n: 3 }]);
        await t
          .http()
          .get(`/client/${client}/limit/`)
          .set(admin)
          .expect(200, { agent_event_limit: 3, agent_event_count: 3, rate_limit_per_hour: 3600 });
      },
    );

    it('creates exactly 20 of 30 concurrent agent events on a new client with the default limit', async () => {
      await createClient(t, 'burst');
      const agentId = await createAgent(t, 'burst', 'local', '301');
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          t
            .http()
            .post(`/client/burst/agent/local/${agentId}/event/`)
            .set(admin)
            .send(login(`https://burst.example.com/${i}`)),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(20);
      expect(statuses.filter((s) => s === 403)).toHaveLength(10);
      expect(await t.sql("SELECT COUNT(*) AS n FROM agent_events WHERE client_id = 'burst'")).toEqual([{ n: 20 }]);
    });
  });
});
