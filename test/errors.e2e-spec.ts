import { createAgent, createClient, createEvent, dbState, login } from './support/api-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

type Method = 'get' | 'post' | 'put' | 'delete';

const TEN_KB = 'x'.repeat(10 * 1024);
const VALID_EVENT = { url: 'https://ok.example.com/hook', method: 'GET', event_type: 'agent-login' };

/** Placeholders in paths, filled in once the fixtures exist. */
const ids: Record<string, number> = {};
const fill = (path: string) => path.replace(/:(local|remote|levent|revent)\b/g, (_, key: string) => String(ids[key]));

describe('bad input is refused with {message, status} and changes nothing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('errors');
    await createClient(t, 'x');
    ids.local = await createAgent(t, 'x', 'local', '101@x');
    ids.remote = await createAgent(t, 'x', 'remote', '+101');
    ids.levent = await createEvent(t, 'x', 'local', ids.local, login());
    ids.revent = await createEvent(t, 'x', 'remote', ids.remote, login());
  });
  afterAll(() => t.close());

  async function expectRefused(method: Method, path: string, body: unknown, status: number, code: string, inMessage?: string) {
    const before = await dbState(t);
    let request = t
      .http()
      [method](fill(path))
      .set(path.startsWith('/pbx') ? pbx : admin);
    if (body !== undefined) request = request.send(body as object);
    const response = await request;
    expect({ status: response.status, body: response.body }).toEqual({
      status,
      body: { message: inMessage ? expect.stringContaining(inMessage) : expect.any(String), status: code },
    });
    expect(await dbState(t)).toEqual(before);
  }

  const eventBodyCases = (type: 'local' | 'remote'): [string, Method, string, unknown, string][] => {
    const create = `/client/x/agent/${type}/:${type}/event/`;
    const update = `/client/x/agent/${type}/:${type}/event/:${type === 'local' ? 'levent' : 'revent'}`;
    return [
      [`${type} event create: a number for url`, 'post', create, { ...VALID_EVENT, url: 12345 }, 'url'],
      [`${type} event create: a javascript: url`, 'post', create, { ...VALID_EVENT, url: 'javascript:alert(1)' }, 'url'],
      [`${type} event create: an ftp url`, 'post', create, { ...VALID_EVENT, url: 'ftp://x/y' }, 'url'],
      [`${type} event create: a relative url`, 'post', create, { ...VALID_EVENT, url: '/fordel/show.php' }, 'url'],
      [`${type} event create: a url without scheme`, 'post', create, { ...VALID_EVENT, url: 'hooks.example.com/show.php' }, 'url'],
      [`${type} event create: an empty url`, 'post', create, { ...VALID_EVENT, url: '' }, 'url'],
      [`${type} event create: a null url`, 'post', create, { ...VALID_EVENT, url: null }, 'url'],
      [`${type} event create: a 10 kB url`, 'post', create, { ...VALID_EVENT, url: `https://ok.example.com/${TEN_KB}` }, 'url'],
      [`${type} event create: no url`, 'post', create, { method: 'GET', event_type: 'agent-login' }, 'url'],
      [`${type} event create: method "get" in lower case`, 'post', create, { ...VALID_EVENT, method: 'get' }, 'method'],
      [`${type} event create: method "PUT"`, 'post', create, { ...VALID_EVENT, method: 'PUT' }, 'method'],
      [`${type} event create: a numeric method`, 'post', create, { ...VALID_EVENT, method: 1 }, 'method'],
      [`${type} event create: a 10 kB method`, 'post', create, { ...VALID_EVENT, method: TEN_KB }, 'method'],
      [`${type} event create: no method`, 'post', create, { url: VALID_EVENT.url, event_type: 'agent-login' }, 'method'],
      [`${type} event create: event_type "AGENT-LOGIN"`, 'post', create, { ...VALID_EVENT, event_type: 'AGENT-LOGIN' }, 'event_type'],
      [`${type} event create: event_type "agent_login"`, 'post', create, { ...VALID_EVENT, event_type: 'agent_login' }, 'event_type'],
      [`${type} event create: a 10 kB event_type`, 'post', create, { ...VALID_EVENT, event_type: TEN_KB }, 'event_type'],
      [`${type} event create: no event_type`, 'post', create, { url: VALID_EVENT.url, method: 'GET' }, 'event_type'],
      [`${type} event create: an array for event_type`, 'post', create, { ...VALID_EVENT, event_type: ['agent-login'] }, 'event_type'],
      [`${type} event create: an unknown field`, 'post', create, { ...VALID_EVENT, secret: 'x' }, 'secret'],
      [`${type} event create: an id in the body`, 'post', create, { ...VALID_EVENT, id: 7 }, 'id'],
      [`${type} event create: an empty body`, 'post', create, {}, 'url'],
      [`${type} event update: method "get" in lower case`, 'put', update, { method: 'get' }, 'method'],
      [`${type} event update: a number for url`, 'put', update, { url: 42 }, 'url'],
      [`${type} event update: a null url`, 'put', update, { url: null }, 'url'],
      [`${type} event update: a null method`, 'put', update, { method: null }, 'method'],
      [`${type} event update: a null event_type`, 'put', update, { event_type: null }, 'event_type'],
      [`${type} event update: a javascript: url`, 'put', update, { url: 'javascript:alert(1)' }, 'url'],
      [`${type} event update: an ftp url`, 'put', update, { url: 'ftp://x/y' }, 'url'],
      [`${type} event update: a 10 kB url`, 'put', update, { url: `http://ok.example.com/${TEN_KB}` }, 'url'],
      [`${type} event update: an unknown field`, 'put', update, { agent_id: ids.remote ?? 1 }, 'agent_id'],
    ];
  };

  it.each<[string, Method, string, unknown, string]>([
    ['client create: a 10 kB name', 'post', '/client/', { id: 'big', name: TEN_KB }, 'name'],
    ['client create: a 10 kB id', 'post', '/client/', { id: TEN_KB, name: 'x' }, 'id'],
    ['client create: no body at all', 'post', '/client/', undefined, 'name'],
    ['limit: a string for agent_event_limit', 'put', '/client/x/limit/', { agent_event_limit: '20' }, 'agent_event_limit'],
    ['limit: a 10 kB string for agent_event_limit', 'put', '/client/x/limit/', { agent_event_limit: TEN_KB }, 'agent_event_limit'],
    ['limit: a boolean for agent_event_limit', 'put', '/client/x/limit/', { agent_event_limit: true }, 'agent_event_limit'],
    ['limit: no agent_event_limit', 'put', '/client/x/limit/', {}, 'agent_event_limit'],
    ['local agent create: a 10 kB extension_name', 'post', '/client/x/agent/local/', { extension_name: TEN_KB }, 'extension_name'],
    ['local agent create: no extension_name', 'post', '/client/x/agent/local/', {}, 'extension_name'],
    ['local agent create: a numeric extension_name', 'post', '/client/x/agent/local/', { extension_name: 101 }, 'extension_name'],
    ['local agent create: an unknown field', 'post', '/client/x/agent/local/', { extension_name: '102', queue: 'q' }, 'queue'],
    ['local agent update: a 10 kB status', 'put', '/client/x/agent/local/:local', { status: TEN_KB }, 'status'],
    ['local agent update: a null status', 'put', '/client/x/agent/local/:local', { status: null }, 'status'],
    ['remote agent create: a numeric agent_number', 'post', '/client/x/agent/remote/', { agent_number: 74951234567 }, 'agent_number'],
    ['remote agent create: a 10 kB agent_number', 'post', '/client/x/agent/remote/', { agent_number: '1'.repeat(10_240) }, 'agent_number'],
    ['remote agent create: no agent_number', 'post', '/client/x/agent/remote/', {}, 'agent_number'],
    ['remote agent update: a status of "logged_in"', 'put', '/client/x/agent/remote/:remote', { status: 'logged_in' }, 'status'],
    [
      'pbx: a 10 kB extension_name',
      'post',
      '/pbx/agent-command',
      { client_id: 'x', extension_name: TEN_KB, command: 'login' },
      'extension_name',
    ],
    ...eventBodyCases('local'),
    ...eventBodyCases('remote'),
  ])('%s: 400 validation_failed naming the field', async (_label, method, path, body, field) => {
    await expectRefused(method, path, body, 400, 'validation_failed', field);
  });

  const badIds = ['-1', 'abc', '1.5', '0', '1e3', '0x10', '99999999999', '%20'];
  const idPaths: [Method, string, string][] = [];
  for (const type of ['local', 'remote']) {
    const event = type === 'local' ? 'levent' : 'revent';
    idPaths.push(
      ['get', `/client/x/agent/${type}/{id}`, 'agent_id'],
      ['put', `/client/x/agent/${type}/{id}`, 'agent_id'],
      ['delete', `/client/x/agent/${type}/{id}`, 'agent_id'],
      ['get', `/client/x/agent/${type}/{id}/event/`, 'agent_id'],
      ['post', `/client/x/agent/${type}/{id}/event/`, 'agent_id'],
      ['get', `/client/x/agent/${type}/{id}/event/:${event}`, 'agent_id'],
      ['get', `/client/x/agent/${type}/:${type}/event/{id}`, 'event_id'],
      ['put', `/client/x/agent/${type}/:${type}/event/{id}`, 'event_id'],
      ['delete', `/client/x/agent/${type}/:${type}/event/{id}`, 'event_id'],
    );
  }

  it.each(
    badIds.flatMap((id) =>
      idPaths.map(([method, path, field]) => [id, method.toUpperCase(), path.replace('{id}', id), field, method] as const),
    ),
  )('refuses the id %j in %s %s: 400 validation_failed naming %s', async (_id, _method, path, field, method) => {
    const body =
      method === 'post'
        ? VALID_EVENT
        : method === 'put'
          ? path.includes('/event')
            ? { method: 'POST' }
            : { status: 'available' }
          : undefined;
    await expectRefused(method, path, body, 400, 'validation_failed', `${field} must be a positive integer`);
  });

  it.each<[Method, string]>([
    ['get', '/client/a%20b'],
    ['get', '/client/a.b/limit/'],
    ['put', '/client/a%2Fb/limit/'],
    ['get', `/client/${'c'.repeat(65)}/agent/local/`],
    ['post', '/client/%C3%A9/agent/remote/'],
  ])('refuses the client id in %s %s: 400 validation_failed naming client_id', async (method, path) => {
    const body = method === 'put' ? { agent_event_limit: 1 } : method === 'post' ? { agent_number: '+1' } : undefined;
    await expectRefused(method, path, body, 400, 'validation_failed', 'client_id');
  });

  it.each<[Method, string]>([
    ['post', '/client/'],
    ['put', '/client/x/limit/'],
    ['post', '/client/x/agent/local/'],
    ['put', '/client/x/agent/local/:local'],
    ['post', '/client/x/agent/remote/'],
    ['put', '/client/x/agent/remote/:remote'],
    ['post', '/client/x/agent/local/:local/event/'],
    ['put', '/client/x/agent/local/:local/event/:levent'],
    ['post', '/client/x/agent/remote/:remote/event/'],
    ['put', '/client/x/agent/remote/:remote/event/:revent'],
    ['post', '/pbx/agent-command'],
  ])('answers malformed JSON to %s %s with 400 malformed_json', async (method, path) => {
    const before = await dbState(t);
    const response = await t
      .http()
      [method](fill(path))
      .set(path.startsWith('/pbx') ? pbx : admin)
      .set('Content-Type', 'application/json')
      .send('{"url": "https://ok.example.com/", ');
    expect([response.status, response.body]).toEqual([400, { message: 'The request body is not valid JSON.', status: 'malformed_json' }]);
    expect(await dbState(t)).toEqual(before);
  });

  it.each(['"https://ok.example.com/"', '42', 'null', 'true'])(
    'answers a JSON body that is the scalar %s, not an object, with 400',
    async (raw) => {
      const before = await dbState(t);
      const response = await t
        .http()
        .post(fill('/client/x/agent/local/:local/event/'))
        .set(admin)
        .set('Content-Type', 'application/json')
        .send(raw);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ message: expect.any(String), status: expect.stringMatching(/^(malformed_json|validation_failed)$/) });
      expect(await dbState(t)).toEqual(before);
    },
  );

  it('answers a JSON array body with 400 validation_failed', async () => {
    await expectRefused('post', '/client/x/agent/local/:local/event/', [VALID_EVENT], 400, 'validation_failed');
  });

  it.each(['/client/%FF', '/client/x/agent/local/%E0%A4%A/event/'])(
    'answers the path %s with broken percent-encoding with 400 and the error shape',
    async (path) => {
      const response = await t.http().get(path).set(admin);
      expect([response.status, response.body]).toEqual([
        400,
        { message: expect.any(String), status: expect.stringMatching(/^(bad_request|validation_failed)$/) },
      ]);
    },
  );

  it("answers a path parameter over 8 KiB with 414 uri_too_long, and one just under with its route's own 400", async () => {
    const tooLong = await t
      .http()
      .get(`/client/${'x'.repeat(8193)}`)
      .set(admin);
    expect([tooLong.status, tooLong.body]).toEqual([414, { message: 'The request URL is too long.', status: 'uri_too_long' }]);
    const long = await t
      .http()
      .get(`/client/${'x'.repeat(8192)}`)
      .set(admin);
    expect([long.status, long.body.status]).toEqual([400, 'validation_failed']);
  });

  it('answers a body of more than the size limit with 413 payload_too_large', async () => {
    await expectRefused(
      'post',
      '/client/x/agent/local/:local/event/',
      { ...VALID_EVENT, url: `https://ok.example.com/${'y'.repeat(200_000)}` },
      413,
      'payload_too_large',
    );
  });

  it.each<[Method, string]>([
    ['get', '/nowhere'],
    ['get', '/client/x/agent/ufo/'],
    ['post', '/client/x/agent/ufo/1/event/'],
    ['patch', '/nowhere'],
    ['delete', '/client/x/agent/local/:local/event/:levent/extra'],
    ['get', '/client/x/agent/local/:local/event/:levent/extra'],
  ] as [Method, string][])('answers an unknown route %s %s with 404 and the error shape', async (method, path) => {
    const before = await dbState(t);
    const response = await (t.http() as unknown as Record<string, (p: string) => ReturnType<ReturnType<TestApp['http']>['get']>>)
      [method](fill(path))
      .set(admin);
    expect([response.status, response.body]).toEqual([404, { message: expect.any(String), status: 'not_found' }]);
    expect(await dbState(t)).toEqual(before);
  });
});
