import { createAgent, createClient, createEvent, dbState, login } from './support/api-fixtures.js';
import { ADMIN_TOKEN, PBX_TOKEN, admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

type Method = 'get' | 'post' | 'put' | 'delete';

const ids: Record<string, number> = {};
const fill = (path: string) => path.replace(/:(local|remote|levent|revent)\b/g, (_, key: string) => String(ids[key]));

/** Every endpoint of the API that needs the admin (or a client) token, with a body it would accept. */
const ADMIN_ENDPOINTS: [Method, string, object | undefined][] = [
  ['post', '/client/', { id: 'new', name: 'New' }],
  ['get', '/client/a', undefined],
  ['get', '/client/a/limit/', undefined],
  ['put', '/client/a/limit/', { agent_event_limit: 5 }],
  ['post', '/client/a/agent/local/', { extension_name: '201' }],
  ['get', '/client/a/agent/local/', undefined],
  ['get', '/client/a/agent/local/:local', undefined],
  ['put', '/client/a/agent/local/:local', { status: 'available' }],
  ['delete', '/client/a/agent/local/:local', undefined],
  ['post', '/client/a/agent/remote/', { agent_number: '+201' }],
  ['get', '/client/a/agent/remote/', undefined],
  ['get', '/client/a/agent/remote/:remote', undefined],
  ['put', '/client/a/agent/remote/:remote', { status: 'available' }],
  ['delete', '/client/a/agent/remote/:remote', undefined],
  ['post', '/client/a/agent/local/:local/event/', login()],
  ['get', '/client/a/agent/local/:local/event/', undefined],
  ['get', '/client/a/agent/local/:local/event/:levent', undefined],
  ['put', '/client/a/agent/local/:local/event/:levent', { method: 'POST' }],
  ['delete', '/client/a/agent/local/:local/event/:levent', undefined],
  ['post', '/client/a/agent/remote/:remote/event/', login()],
  ['get', '/client/a/agent/remote/:remote/event/', undefined],
  ['get', '/client/a/agent/remote/:remote/event/:revent', undefined],
  ['put', '/client/a/agent/remote/:remote/event/:revent', { method: 'POST' }],
  ['delete', '/client/a/agent/remote/:remote/event/:revent', undefined],
];
const ALL_ENDPOINTS: [Method, string, object | undefined][] = [
  ...ADMIN_ENDPOINTS,
  ['post', '/pbx/agent-command', { client_id: 'a', extension_name: '101', command: 'login' }],
];

const INVALID_TOKEN = { message: 'A valid "Authorization: Bearer <token>" header is required.', status: 'invalid_token' };
const ACCESS_DENIED = { message: 'This token may not use this endpoint.', status: 'access_denied' };

describe('authentication and access', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('auth');
    await createClient(t, 'a');
    ids.local = await createAgent(t, 'a', 'local', '101');
    ids.remote = await createAgent(t, 'a', 'remote', '+101');
    ids.levent = await createEvent(t, 'a', 'local', ids.local, login());
    ids.revent = await createEvent(t, 'a', 'remote', ids.remote, login());
  });
  afterAll(() => t.close());

  function call(method: Method, path: string, body: object | undefined, headers: Record<string, string>) {
    const request = t.http()[method](fill(path)).set(headers);
    return body === undefined ? request : request.send(body);
  }

  const badCredentials: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong bearer token', { Authorization: 'Bearer not-the-token-0123456789' }],
    ['the admin token with one character more', { Authorization: `Bearer ${ADMIN_TOKEN}x` }],
    ['the admin token without "Bearer"', { Authorization: ADMIN_TOKEN }],
    ['the admin token as Basic credentials', { Authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` }],
    ['"Bearer" and nothing else', { Authorization: 'Bearer ' }],
    ['the token in an X-Api-Key header', { 'X-Api-Key': ADMIN_TOKEN }],
  ];

  describe.each(badCredentials)('with %s', (_label, headers) => {
    it.each(ALL_ENDPOINTS)('answers %s %s with 401 invalid_token and changes nothing', async (method, path, body) => {
      const before = await dbState(t);
      const response = await call(method, path, body, headers);
      expect([response.status, response.body]).toEqual([401, INVALID_TOKEN]);
      expect(await dbState(t)).toEqual(before);
    });
  });

  it.each(ADMIN_ENDPOINTS)('answers the PBX token on %s %s with 403 access_denied and changes nothing', async (method, path, body) => {
    const before = await dbState(t);
    const response = await call(method, path, body, pbx);
    expect([response.status, response.body]).toEqual([403, ACCESS_DENIED]);
    expect(await dbState(t)).toEqual(before);
  });

  it('checks the token before the input: a bad body without a token is 401, not 400', async () => {
    await t.http().post(fill('/client/a/agent/local/:local/event/')).send({ url: 'ftp://x/y' }).expect(401, INVALID_TOKEN);
  });

  it('checks the token before looking anything up: an unknown client without a token is 401, not 404', async () => {
    await t.http().get('/client/ghost/limit/').expect(401, INVALID_TOKEN);
    await t.http().get('/client/ghost/limit/').set(pbx).expect(403, ACCESS_DENIED);
  });

  it('accepts the scheme name in any case', async () => {
    await t.http().get('/client/a').set('Authorization', `bearer ${ADMIN_TOKEN}`).expect(200, { id: 'a', name: 'Client a' });
    await t.http().get('/client/a').set('Authorization', `BEARER ${ADMIN_TOKEN}`).expect(200, { id: 'a', name: 'Client a' });
  });

  it('lets the PBX token send phone commands', async () => {
    await t
      .http()
      .post('/pbx/agent-command')
      .set('Authorization', `Bearer ${PBX_TOKEN}`)
      .send({ client_id: 'a', extension_name: '101', command: 'login' })
      .expect(200, { agent_id: ids.local, agent_type: 'local', agent_status: 'available', changed: true });
  });

  it('answers "@me" for the admin, who belongs to no client, with 404 client_not_found', async () => {
    const response = await t.http().get('/client/@me/limit/').set(admin).expect(404);
    expect(response.body).toEqual({ message: expect.any(String), status: 'client_not_found' });
  });

  it.each(['/health', '/docs', '/docs-json'])('serves %s without a token', async (path) => {
    await t.http().get(path).expect(200);
  });
});
