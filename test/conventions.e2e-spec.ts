import { createAgent, createClient, createEvent, login } from './support/api-fixtures.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

const VARIANTS: [string, string, string][] = [
  ['the bare path', '', ''],
  ['the bare path with a trailing slash', '', '/'],
  ['/api/ver1.0', '/api/ver1.0', ''],
  ['/api/ver1.0 with a trailing slash', '/api/ver1.0', '/'],
];

describe('API conventions: prefix, trailing slashes, content types, health and docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('conventions');
  });
  afterAll(() => t.close());

  describe.each(VARIANTS)('every endpoint at %s', (_label, prefix, slash) => {
    const url = (path: string) => `${prefix}${path}${slash}`;
    const clientId = `v${prefix ? 'p' : 'b'}${slash ? 's' : 'n'}`;

    it('answers clients and limits', async () => {
      await t.http().post(url('/client')).set(admin).send({ id: clientId, name: 'Variant' }).expect(201, { id: clientId, name: 'Variant' });
      await t
        .http()
        .get(url(`/client/${clientId}`))
        .set(admin)
        .expect(200, { id: clientId, name: 'Variant' });
      await t
        .http()
        .put(url(`/client/${clientId}/limit`))
        .set(admin)
        .send({ agent_event_limit: 7 })
        .expect(200, { agent_event_limit: 7, agent_event_count: 0, rate_limit_per_hour: 3600 });
      await t
        .http()
        .get(url(`/client/${clientId}/limit`))
        .set(admin)
        .expect(200, { agent_event_limit: 7, agent_event_count: 0, rate_limit_per_hour: 3600 });
    });

    it.each([
      ['local', 'extension_name', '101@variant', '102@variant'],
      ['remote', 'agent_number', '+101', '+102'],
    ])('answers the five %s agent operations and the five agent event operations', async (type, field, name, renamed) => {
      const agents = url(`/client/${clientId}/agent/${type}`);
      const created = await t
        .http()
        .post(agents)
        .set(admin)
        .send({ [field]: name })
        .expect(201);
      const id = created.body.id as number;
      expect(created.body).toEqual({ id, [field]: name, status: 'logged_out' });
      await t
        .http()
        .get(agents)
        .set(admin)
        .expect(200, [{ id, [field]: name, status: 'logged_out' }]);
      const agent = url(`/client/${clientId}/agent/${type}/${id}`);
      await t
        .http()
        .get(agent)
        .set(admin)
        .expect(200, { id, [field]: name, status: 'logged_out' });
      await t
        .http()
        .put(agent)
        .set(admin)
        .send({ [field]: renamed })
        .expect(200, { id, [field]: renamed, status: 'logged_out' });

      const events = url(`/client/${clientId}/agent/${type}/${id}/event`);
      const event = await t.http().post(events).set(admin).send(login('https://hooks.example.com/fordel/show.php')).expect(201);
      const eventId = event.body.id as number;
      const body = { url: 'https://hooks.example.com/fordel/show.php', method: 'GET', event_type: 'agent-login', id: eventId };
      expect(event.body).toEqual(body);
      await t.http().get(events).set(admin).expect(200, [body]);
      const one = url(`/client/${clientId}/agent/${type}/${id}/event/${eventId}`);
      await t.http().get(one).set(admin).expect(200, body);
      await t
        .http()
        .put(one)
        .set(admin)
        .send({ method: 'POST' })
        .expect(200, { ...body, method: 'POST' });

      await t
        .http()
        .put(agent)
        .set(admin)
        .send({ status: 'available' })
        .expect(200, { id, [field]: renamed, status: 'available' });
      expect(await t.sql('SELECT COUNT(*) AS n FROM deliveries WHERE agent_event_id = ?', [eventId])).toEqual([{ n: 1 }]);

      expect((await t.http().delete(one).set(admin).expect(204)).text).toBe('');
      expect(await t.sql('SELECT COUNT(*) AS n FROM agent_events WHERE id = ?', [eventId])).toEqual([{ n: 0 }]);
      expect((await t.http().delete(agent).set(admin).expect(204)).text).toBe('');
      expect(await t.sql('SELECT COUNT(*) AS n FROM agents WHERE id = ?', [id])).toEqual([{ n: 0 }]);
    });

    it('answers the health check', async () => {
      await t.http().get(url('/health')).expect(200, { status: 'ok', mysql: 'up', redis: 'up' });
    });
  });

  describe('Content-Type: application/json on a bodiless GET or DELETE', () => {
    let agentId: number;
    let eventId: number;
    beforeAll(async () => {
      await createClient(t, 'ct');
      agentId = await createAgent(t, 'ct', 'local', '101');
      eventId = await createEvent(t, 'ct', 'local', agentId, login());
    });

    const json = { 'Content-Type': 'application/json' };

    it.each([
      '/client/ct',
      '/client/ct/limit/',
      '/client/ct/agent/local/',
      '/client/ct/agent/remote/',
      '/api/ver1.0/client/ct/agent/local/',
      '/health',
    ])('is no error on GET %s, with no body or an empty one', async (path) => {
      const bare = await t.http().get(path).set(admin).set(json);
      const empty = await t.http().get(path).set(admin).set(json).send('');
      expect([bare.status, empty.status]).toEqual([200, 200]);
      expect(empty.body).toEqual(bare.body);
    });

    it('is no error on GET of an agent and its agent events', async () => {
      await t
        .http()
        .get(`/client/ct/agent/local/${agentId}`)
        .set(admin)
        .set(json)
        .expect(200, { id: agentId, extension_name: '101', status: 'logged_out' });
      await t
        .http()
        .get(`/client/ct/agent/local/${agentId}/event/`)
        .set(admin)
        .set(json)
        .expect(200, [{ ...login(), id: eventId }]);
      await t
        .http()
        .get(`/api/ver1.0/client/ct/agent/local/${agentId}/event/${eventId}`)
        .set(admin)
        .set(json)
        .send('')
        .expect(200, { ...login(), id: eventId });
    });

    it('is no error on DELETE of an agent event and of an agent', async () => {
      await t.http().delete(`/api/ver1.0/client/ct/agent/local/${agentId}/event/${eventId}`).set(admin).set(json).expect(204);
      const other = await createAgent(t, 'ct', 'remote', '+5');
      await t.http().delete(`/client/ct/agent/remote/${other}/`).set(admin).set(json).send('').expect(204);
      await t.http().delete(`/client/ct/agent/local/${agentId}`).set(admin).set(json).expect(204);
      expect(await t.sql("SELECT COUNT(*) AS n FROM agents WHERE client_id = 'ct'")).toEqual([{ n: 0 }]);
    });
  });

  describe('documentation', () => {
    it('serves the Swagger UI at /docs', async () => {
      const response = await t.http().get('/docs').redirects(1).expect(200);
      expect(response.headers['content-type']).toMatch(/text\/html/);
      expect(response.text).toContain('swagger-ui');
    });

    it('lists the five agent event operations of both agent types in /docs-json', async () => {
      const { body: doc } = await t.http().get('/docs-json').expect(200);
      expect(doc.openapi).toMatch(/^3\./);
      for (const type of ['local', 'remote']) {
        const list = doc.paths[`/client/{client_id}/agent/${type}/{agent_id}/event`];
        const one = doc.paths[`/client/{client_id}/agent/${type}/{agent_id}/event/{event_id}`];
        expect(Object.keys(list ?? {}).sort()).toEqual(['get', 'post']);
        expect(Object.keys(one ?? {}).sort()).toEqual(['delete', 'get', 'put']);
        for (const operation of [list.get, list.post, one.get, one.put, one.delete]) {
          expect(operation.security).toEqual([{ bearer: [] }, { oauth2: [] }]);
        }
        const parameters = one.get.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort();
        expect(parameters).toEqual(['path:agent_id', 'path:client_id', 'path:event_id']);
        expect(Object.keys(list.post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '404']));
        expect(Object.keys(one.delete.responses)).toContain('204');
      }
    });

    it('describes an agent event with exactly url, method, event_type and id, with their enums', async () => {
      const { body: doc } = await t.http().get('/docs-json').expect(200);
      const schemas = doc.components.schemas;
      expect(Object.keys(schemas.AgentEventResponseDto.properties).sort()).toEqual(['event_type', 'id', 'method', 'url']);
      expect(schemas.CreateAgentEventDto.required.sort()).toEqual(['event_type', 'method', 'url']);
      expect(schemas.CreateAgentEventDto.properties.method.enum).toEqual(['GET', 'POST']);
      expect(schemas.CreateAgentEventDto.properties.event_type.enum).toEqual(['agent-login', 'agent-logout']);
      expect(schemas.UpdateAgentEventDto.required ?? []).toEqual([]);
    });

    it("carries the spec's example https://hooks.example.com/fordel/show.php", async () => {
      const { text, body: doc } = await t.http().get('/docs-json').expect(200);
      expect(text).toContain('https://hooks.example.com/fordel/show.php');
      const post = doc.paths['/client/{client_id}/agent/local/{agent_id}/event'].post;
      expect(JSON.stringify(post)).toContain('https://hooks.example.com/fordel/show.php');
    });

    it('documents the clients, limits, agents, PBX and health paths as well', async () => {
      const { body: doc } = await t.http().get('/docs-json').expect(200);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/client',
          '/client/{client_id}',
          '/client/{client_id}/limit',
          '/client/{client_id}/agent/local',
          '/client/{client_id}/agent/local/{agent_id}',
          '/client/{client_id}/agent/remote',
          '/client/{client_id}/agent/remote/{agent_id}',
          '/pbx/agent-command',
          '/health',
        ]),
      );
    });
  });
});
