import { createAgent, createEvent, dbState, login, logout, type AgentType } from './support/api-fixtures.js';
import { clientWithToken } from './support/client-fixtures.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

type Method = 'get' | 'post' | 'put' | 'delete';
interface Route {
  method: Method;
  path: string;
}

const ACCESS_DENIED = { message: 'This token may not use this endpoint.', status: 'access_denied' };
/** Routes anyone may call. */
const PUBLIC = ['get /health', 'get /health/live', 'get /health/ready', 'post /oauth/token'];
/** Routes a client token may never use, even on its own client. */
const NOT_FOR_CLIENTS = [
  'post /client',
  'put /client/{client_id}/limit',
  'post /client/{client_id}/app',
  'get /client/{client_id}/app',
  'delete /client/{client_id}/app/{app_id}',
  'post /pbx/agent-command',
];
/** A recovery's `since`: before every delivery of the suite. */
const SINCE = '2020-01-01T00:00:00Z';
const key = (route: Route) => `${route.method} ${route.path}`;

/** A client's resources: an agent of each type, an agent event on each, deliveries, an application. */
interface Fixture {
  clientId: string;
  auth: Record<string, string>;
  agents: Record<AgentType, number>;
  events: Record<AgentType, number>;
  deliveryId: string;
  recoveryId: string;
  appId: string;
}

describe('two clients side by side: each token reaches only its own client', () => {
  let t: TestApp;
  let routes: Route[];
  let a: Fixture;
  let b: Fixture;

  async function fixture(clientId: string, n: number): Promise<Fixture> {
    const { auth, credentials } = await clientWithToken(t, clientId);
    const agents = {
      local: await createAgent(t, clientId, 'local', `${n}01`),
      remote: await createAgent(t, clientId, 'remote', `+${n}01`),
    };
    const events = {
      local: await createEvent(t, clientId, 'local', agents.local, login()),
      remote: await createEvent(t, clientId, 'remote', agents.remote, logout()),
    };
    await t.http().put(`/client/${clientId}/agent/local/${agents.local}`).set(admin).send({ status: 'available' }).expect(200);
    const deliveries = await t.http().get(`/client/${clientId}/delivery/`).set(admin).expect(200);
    const recovery = await t.http().post(`/client/${clientId}/delivery/recover`).set(admin).send({ since: SINCE }).expect(202);
    return {
      clientId,
      auth,
      agents,
      events,
      deliveryId: deliveries.body.deliveries[0].id,
      recoveryId: recovery.body.id,
      appId: credentials.client_id,
    };
  }

  /** The path with its parameters taken from `owner`'s resources, and `clientId` in place of the client. */
  function fill(path: string, owner: Fixture, clientId: string): string {
    const type: AgentType = path.includes('/remote/') ? 'remote' : 'local';
    return path
      .replace('{client_id}', clientId)
      .replace('{agent_type}', 'local')
      .replace('{agent_id}', String(owner.agents[type]))
      .replace('{event_id}', String(owner.events[type]))
      .replace('{delivery_id}', owner.deliveryId)
      .replace('{recovery_id}', owner.recoveryId)
      .replace('{app_id}', owner.appId);
  }

  /** A body each route would accept, so that a refusal is the guard's and not the validation's. */
  function body(route: Route, clientId: string): object | undefined {
    const type: AgentType = route.path.includes('/remote') ? 'remote' : 'local';
    const table: Record<string, object> = {
      'post /client': { id: 'newcomer', name: 'Newcomer' },
      'put /client/{client_id}/limit': { agent_event_limit: 99, rate_limit_per_hour: 99 },
      [`post /client/{client_id}/agent/${type}`]: type === 'local' ? { extension_name: '777' } : { agent_number: '+777' },
      [`put /client/{client_id}/agent/${type}/{agent_id}`]: { status: 'logged_out' },
      [`post /client/{client_id}/agent/${type}/{agent_id}/event`]: login('https://hooks.example.com/intruder'),
      [`put /client/{client_id}/agent/${type}/{agent_id}/event/{event_id}`]: { url: 'https://hooks.example.com/intruder' },
      'post /client/{client_id}/app': { name: 'intruder' },
      'post /client/{client_id}/delivery/recover': { since: SINCE },
      'post /pbx/agent-command': { client_id: clientId, extension_name: '201', command: 'logout' },
    };
    return table[key(route)];
  }

  function call(route: Route, path: string, auth: Record<string, string>, clientId: string) {
    const request = t.http()[route.method](path).set(auth);
    const payload = body(route, clientId);
    return payload === undefined ? request : request.send(payload);
  }

  const state = async () => ({ ...(await dbState(t)), applications: await t.sql('CHECKSUM TABLE applications') });

  beforeAll(async () => {
    t = await createTestApp('client_scoping');
    a = await fixture('alpha', 1);
    b = await fixture('beta', 2);
    const document = (await t.http().get('/docs-json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => ({ method: method as Method, path })),
    );
  });
  afterAll(() => t.close());

  it('knows every route the app registers (from its OpenAPI document)', () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
    for (const known of [...PUBLIC.filter((route) => route !== 'get /health/live' && route !== 'get /health/ready'), ...NOT_FOR_CLIENTS]) {
      expect(routes.map(key)).toContain(known);
    }
  });

  it.each(['beta', 'ghost'])(
    "answers client alpha's token on every route of client %s with 403 access_denied, the same whether that client exists, and changes nothing",
    async (target) => {
      const before = await state();
      const job = () => t.redis.hgetall(`${t.config.queuePrefix}:webhooks:${b.deliveryId}`);
      const jobBefore = await job();
      const checked: string[] = [];
      for (const route of routes.filter((route) => !PUBLIC.includes(key(route)))) {
        const response = await call(route, fill(route.path, b, target), a.auth, target);
        expect([key(route), response.status, response.body]).toEqual([key(route), 403, ACCESS_DENIED]);
        checked.push(key(route));
      }
      expect(checked).toEqual(
        expect.arrayContaining([
          'post /client/{client_id}/delivery/{delivery_id}/retry',
          'delete /client/{client_id}/agent/local/{agent_id}',
        ]),
      );
      expect(await state()).toEqual(before);
      expect(await job()).toEqual(jobBefore);
    },
  );

  it("cannot reach client beta's agents, events or deliveries through its own client id either: 404, nothing changed", async () => {
    const before = await state();
    const nested = routes.filter(
      (route) => /\{(agent_id|delivery_id|recovery_id|app_id)\}/.test(route.path) && !NOT_FOR_CLIENTS.includes(key(route)),
    );
    expect(nested.length).toBeGreaterThanOrEqual(16);
    for (const clientId of ['@me', 'alpha']) {
      for (const route of nested) {
        const response = await call(route, fill(route.path, b, clientId), a.auth, clientId);
        expect([key(route), response.status]).toEqual([key(route), 404]);
        expect(response.body.status).toMatch(/^(agent|event|delivery|recovery)_not_found$/);
      }
    }
    expect(await state()).toEqual(before);
  });

  it('refuses the admin-only and PBX routes to a client token even on its own client', async () => {
    const before = await state();
    for (const route of routes.filter((route) => NOT_FOR_CLIENTS.includes(key(route)))) {
      for (const clientId of ['alpha', '@me']) {
        const response = await call(route, fill(route.path, a, clientId), a.auth, 'alpha');
        expect([key(route), response.status, response.body]).toEqual([key(route), 403, ACCESS_DENIED]);
      }
    }
    expect(await state()).toEqual(before);
  });

  it('lets each client use every other route on its own client through @me, and see only its own', async () => {
    const own = routes
      .filter((route) => route.path.startsWith('/client/{client_id}') && !NOT_FOR_CLIENTS.includes(key(route)))
      // Deletions last, the innermost first, so every route finds what it names.
      .sort(
        (x, y) =>
          Number(x.method === 'delete') - Number(y.method === 'delete') || (x.method === 'delete' ? y.path.length - x.path.length : 0),
      );
    for (const owner of [a, b]) {
      for (const route of own) {
        const response = await call(route, fill(route.path, owner, '@me'), owner.auth, owner.clientId);
        expect([owner.clientId, key(route), response.status < 300]).toEqual([owner.clientId, key(route), true]);
      }
      const client = await t.http().get('/client/@me').set(owner.auth).expect(200);
      expect(client.body).toEqual({ id: owner.clientId, name: `Client ${owner.clientId}` });
    }
    const alphaAgents = await t.http().get('/client/@me/agent/local/').set(a.auth).expect(200);
    const betaAgents = await t.http().get('/client/@me/agent/local/').set(b.auth).expect(200);
    expect(alphaAgents.body.map((agent: { extension_name: string }) => agent.extension_name)).toEqual(['777']);
    expect(betaAgents.body.map((agent: { extension_name: string }) => agent.extension_name)).toEqual(['777']);
    expect(await t.sql('SELECT client_id, extension_name FROM agents WHERE agent_type = ? ORDER BY client_id', ['local'])).toEqual([
      { client_id: 'alpha', extension_name: '777' },
      { client_id: 'beta', extension_name: '777' },
    ]);
  });

  it('keeps the admin token working everywhere, and "@me" with it answers 404 client_not_found as before', async () => {
    await t.http().get('/client/beta/limit/').set(admin).expect(200);
    const response = await t.http().get('/client/@me/limit/').set(admin).expect(404);
    expect(response.body.status).toBe('client_not_found');
  });
});

describe("what existing client code sends, with a client's token", () => {
  let t: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp('client_habits');
    ({ auth } = await clientWithToken(t, 'habits'));
  });
  afterAll(() => t.close());

  it('takes Content-Type: application/json on bodiless GET and DELETE, /api/ver1.0 on every call, slashes on collections only', async () => {
    const json = { ...auth, 'Content-Type': 'application/json' };
    const created = await t.http().post('/api/ver1.0/client/@me/agent/local/').set(json).send({ extension_name: '101' }).expect(201);
    const agentId = created.body.id as number;
    const event = await t.http().post(`/api/ver1.0/client/@me/agent/local/${agentId}/event/`).set(json).send(login()).expect(201);
    const list = await t.http().get(`/api/ver1.0/client/@me/agent/local/${agentId}/event/`).set(json).expect(200);
    expect(list.body).toEqual([event.body]);
    await t.http().get(`/api/ver1.0/client/@me/agent/local/${agentId}/event/${event.body.id}`).set(json).expect(200, event.body);
    await t.http().get('/api/ver1.0/client/@me/signing-secret/').set(json).expect(200);
    await t.http().get('/api/ver1.0/client/@me/delivery/').set(json).expect(200);
    await t.http().delete(`/api/ver1.0/client/@me/agent/local/${agentId}/event/${event.body.id}`).set(json).expect(204, '');
    await t.http().delete(`/api/ver1.0/client/@me/agent/local/${agentId}`).set(json).expect(204, '');
    expect(await t.sql('SELECT id FROM agents')).toEqual([]);
  });

  it('answers an unknown path with a JSON 404, with or without the prefix', async () => {
    for (const path of ['/api/ver1.0/client/@me/nothing/', '/client/@me/agent/local/1/nothing', '/api/ver1.0/nowhere']) {
      const response = await t.http().get(path).set(auth).expect(404);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({ message: expect.any(String), status: expect.any(String) });
    }
  });
});

describe('Swagger UI', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('client_swagger');
  });
  afterAll(() => t.close());

  it('offers the OAuth2 client-credentials flow at /oauth/token beside the bearer field, on every operation that takes a token', async () => {
    const document = (await t.http().get('/docs-json').expect(200)).body;
    expect(document.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      oauth2: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: {} } } },
    });
    const secured = Object.values(document.paths as Record<string, Record<string, { security?: object[] }>>).flatMap((operations) =>
      Object.values(operations).filter((operation) => operation.security),
    );
    expect(secured.length).toBeGreaterThanOrEqual(30);
    for (const operation of secured) expect(operation.security).toEqual([{ bearer: [] }, { oauth2: [] }]);
  });
});
