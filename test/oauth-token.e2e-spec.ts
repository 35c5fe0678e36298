import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { APPLICATION_CACHE_MS } from '../src/applications/applications.service.js';
import { bearer, createApplication, fetchToken, type AppCredentials } from './support/client-fixtures.js';
import { admin, createTestApp, startHttpApp, type TestApp } from './support/test-app.js';

const INVALID_CLIENT = { message: 'Unknown client_id or wrong client_secret.', status: 'invalid_client' };
const INVALID_TOKEN = { message: 'A valid "Authorization: Bearer <token>" header is required.', status: 'invalid_token' };
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('POST /oauth/token: client credentials for an access token', () => {
  let t: TestApp;
  let app: AppCredentials;
  const grant = (credentials: AppCredentials) => ({ grant_type: 'client_credentials', ...credentials });

  beforeAll(async () => {
    t = await createTestApp('oauth_token');
    await t.http().post('/client/').set(admin).send({ id: 'acme', name: 'Acme' }).expect(201);
    app = await createApplication(t, 'acme');
  });
  afterAll(() => t.close());

  /** The token works: it reads the client's own limits through `@me`. */
  async function expectWorkingToken(response: request.Response) {
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 });
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const limit = await t.http().get('/api/ver1.0/client/@me/limit/').set(bearer(response.body.access_token)).expect(200);
    expect(limit.body).toMatchObject({ agent_event_limit: 20 });
  }

  it('issues a token for a form-urlencoded body (RFC 6749)', async () => {
    await expectWorkingToken(await t.http().post('/oauth/token').type('form').send(grant(app)));
  });

  it("issues a token for a multipart/form-data body (PHP's curl given an array)", async () => {
    await expectWorkingToken(
      await t
        .http()
        .post('/oauth/token')
        .field('grant_type', 'client_credentials')
        .field('client_id', app.client_id)
        .field('client_secret', app.client_secret),
    );
  });

  it('refuses a multipart body with a file, too many fields or a field over 1 KiB, and issues no token', async () => {
    const withFile = await t
      .http()
      .post('/oauth/token')
      .field('grant_type', 'client_credentials')
      .field('client_id', app.client_id)
      .field('client_secret', app.client_secret)
      .attach('key', Buffer.from('secret key'), 'key.pem');
    expect([withFile.status, withFile.body]).toEqual([400, { message: 'This endpoint takes no files.', status: 'bad_request' }]);
    const tooMany = t.http().post('/oauth/token').field('grant_type', 'client_credentials');
    for (let index = 0; index < 17; index++) tooMany.field(`extra_${index}`, 'x');
    const tooLong = t.http().post('/oauth/token').field('grant_type', 'client_credentials').field('client_id', 'x'.repeat(1025));
    for (const response of await Promise.all([tooMany, tooLong])) {
      expect([response.status, response.body]).toEqual([413, { message: 'The request body is too large.', status: 'payload_too_large' }]);
    }
  });

  it('refuses a form body of more than 16 fields or 4 KiB with 413, and reads a name given twice as a mistake', async () => {
    const fields = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`extra_${index}`, 'x']));
    for (const body of [
      { ...grant(app), ...fields },
      { ...grant(app), padding: 'x'.repeat(4096) },
    ]) {
      const response = await t.http().post('/oauth/token').type('form').send(body);
      expect([response.status, response.body]).toEqual([413, { message: 'The request body is too large.', status: 'payload_too_large' }]);
    }
    const twice = await t
      .http()
      .post('/oauth/token')
      .type('form')
      .send(`grant_type=client_credentials&client_id=${app.client_id}&client_id=${app.client_id}&client_secret=${app.client_secret}`);
    expect([twice.status, twice.body]).toEqual([400, { message: 'client_id must be given once, as a string.', status: 'invalid_request' }]);
  });

  it('issues a token for a JSON body', async () => {
    await expectWorkingToken(await t.http().post('/oauth/token').send(grant(app)));
  });

  it('issues a token for credentials in HTTP Basic (RFC 6749 2.3.1) with only grant_type in the body', async () => {
    await expectWorkingToken(
      await t
        .http()
        .post('/oauth/token')
        .set('Authorization', basic(app.client_id, app.client_secret))
        .type('form')
        .send({ grant_type: 'client_credentials' }),
    );
  });

  it('also answers under /api/ver1.0', async () => {
    await expectWorkingToken(await t.http().post('/api/ver1.0/oauth/token').type('form').send(grant(app)));
  });

  it('issues a token for every call without storing anything', async () => {
    const before = await t.sql('CHECKSUM TABLE applications, clients');
    let token = '';
    for (let i = 0; i < 20; i++) token = await fetchToken(t, app);
    await t.http().get('/client/@me/limit/').set(bearer(token)).expect(200);
    expect(await t.sql('CHECKSUM TABLE applications, clients')).toEqual(before);
  });

  it.each([
    ['a wrong secret', () => ({ client_id: app.client_id, client_secret: `${app.client_secret.slice(0, -1)}x` })],
    ['an unknown application', () => ({ client_id: '0123456789abcdef01234567', client_secret: app.client_secret })],
    ['a malformed application id', () => ({ client_id: "' OR 1=1 --", client_secret: app.client_secret })],
    ["the application's id as its secret", () => ({ client_id: app.client_id, client_secret: app.client_id })],
  ])('answers %s with 401 invalid_client', async (_label, credentials) => {
    await t.http().post('/oauth/token').type('form').send(grant(credentials())).expect(401, INVALID_CLIENT);
    await t
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(credentials().client_id, credentials().client_secret))
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(401, INVALID_CLIENT);
  });

  it('answers a wrong secret with 401 even right after the right one was accepted (the cache keeps only what was verified)', async () => {
    await fetchToken(t, app);
    await t
      .http()
      .post('/oauth/token')
      .type('form')
      .send(grant({ ...app, client_secret: 'guess' }))
      .expect(401, INVALID_CLIENT);
  });

  it.each(['password', 'authorization_code', 'refresh_token', 'CLIENT_CREDENTIALS'])(
    'answers grant_type=%s with 400 unsupported_grant_type',
    async (grantType) => {
      const response = await t
        .http()
        .post('/oauth/token')
        .type('form')
        .send({ ...grant(app), grant_type: grantType })
        .expect(400);
      expect(response.body).toEqual({ message: expect.any(String), status: 'unsupported_grant_type' });
    },
  );

  it.each([
    ['no grant_type', () => ({ client_id: app.client_id, client_secret: app.client_secret })],
    ['no client_secret', () => ({ grant_type: 'client_credentials', client_id: app.client_id })],
    ['no credentials at all', () => ({ grant_type: 'client_credentials' })],
    [
      'client_id twice',
      () => `grant_type=client_credentials&client_id=${app.client_id}&client_id=${app.client_id}&client_secret=${app.client_secret}`,
    ],
  ])('answers %s with 400 invalid_request', async (_label, body) => {
    const response = await t.http().post('/oauth/token').type('form').send(body()).expect(400);
    expect(response.body).toEqual({ message: expect.any(String), status: 'invalid_request' });
  });

  it('answers 400 invalid_request when HTTP Basic and the body name different credentials', async () => {
    const other = await createApplication(t, 'acme', 'other');
    const response = await t
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(other.client_id, other.client_secret))
      .type('form')
      .send(grant(app))
      .expect(400);
    expect(response.body.status).toBe('invalid_request');
  });

  it('refuses a token whose claims were changed, or that is cut short, with 401 invalid_token', async () => {
    await t.http().post('/client/').set(admin).send({ id: 'victim', name: 'Victim' }).expect(201);
    const token = await fetchToken(t, app);
    const [applicationId, , expiresAt, signature] = token.split('.');
    for (const forged of [
      `${applicationId}.victim.${expiresAt}.${signature}`,
      `${applicationId}.acme.${Number(expiresAt) + 3600}.${signature}`,
      `${applicationId}.acme.${expiresAt}.${signature.slice(0, -2)}`,
      `${applicationId}.acme.${expiresAt}`,
      token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
    ]) {
      await t.http().get('/client/victim/limit/').set(bearer(forged)).expect(401, INVALID_TOKEN);
      await t.http().get('/client/@me/limit/').set(bearer(forged)).expect(401, INVALID_TOKEN);
    }
  });

  it('stops accepting the tokens of a deleted application at once, and stops issuing them', async () => {
    const doomed = await createApplication(t, 'acme', 'doomed');
    const token = await fetchToken(t, doomed);
    await t.http().get('/client/@me/limit/').set(bearer(token)).expect(200);
    await t.http().delete(`/client/acme/app/${doomed.client_id}`).set(admin).expect(204);
    await t.http().get('/client/@me/limit/').set(bearer(token)).expect(401, INVALID_TOKEN);
    await t.http().post('/oauth/token').type('form').send(grant(doomed)).expect(401, INVALID_CLIENT);
    await fetchToken(t, app);
  });

  it(`stops the tokens of an application deleted through another API process within ${APPLICATION_CACHE_MS / 1000} s`, async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(t.config)] }).compile();
    const second = await startHttpApp(moduleRef, ['error', 'warn']);
    try {
      const doomed = await createApplication(t, 'acme', 'doomed elsewhere');
      const token = await fetchToken(t, doomed);
      // The second process has seen the application, and caches it.
      await request(second.getHttpServer()).get('/client/@me/limit/').set(bearer(token)).expect(200);
      await request(second.getHttpServer()).post('/oauth/token').type('form').send(grant(doomed)).expect(200);
      await t.http().delete(`/client/acme/app/${doomed.client_id}`).set(admin).expect(204);
      const deletedAt = Date.now();
      let stoppedAfter = -1;
      while (Date.now() - deletedAt < APPLICATION_CACHE_MS + 3000) {
        const response = await request(second.getHttpServer()).get('/client/@me/limit/').set(bearer(token));
        if (response.status === 401) {
          stoppedAfter = Date.now() - deletedAt;
          break;
        }
        await sleep(100);
      }
      expect(stoppedAfter).toBeGreaterThanOrEqual(0);
      expect(stoppedAfter).toBeLessThanOrEqual(APPLICATION_CACHE_MS + 1500);
      await request(second.getHttpServer()).post('/oauth/token').type('form').send(grant(doomed)).expect(401, INVALID_CLIENT);
    } finally {
      await second.close();
    }
  });

  it('lets existing client code call the token endpoint with Content-Type: application/json and Basic, as some do', async () => {
    const response = await t
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(app.client_id, app.client_secret))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ grant_type: 'client_credentials' }));
    await expectWorkingToken(response);
  });
});

describe('token expiry', () => {
  let t: TestApp;
  afterAll(() => t.close());

  it('refuses a token once TOKEN_TTL_SECONDS have passed, with 401 invalid_token', async () => {
    t = await createTestApp('oauth_expiry', { TOKEN_TTL_SECONDS: '1' });
    await t.http().post('/client/').set(admin).send({ id: 'brief', name: 'Brief' }).expect(201);
    const app = await createApplication(t, 'brief');
    const response = await t
      .http()
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', ...app })
      .expect(200);
    expect(response.body.expires_in).toBe(1);
    const token = response.body.access_token as string;
    const expiresAt = Number(token.split('.')[2]) * 1000;
    if (Date.now() < expiresAt - 100) await t.http().get('/client/@me/limit/').set(bearer(token)).expect(200);
    await sleep(expiresAt - Date.now() + 50);
    await t.http().get('/client/@me/limit/').set(bearer(token)).expect(401, INVALID_TOKEN);
    await t
      .http()
      .get('/client/@me/limit/')
      .set(bearer(await fetchToken(t, app)))
      .expect(200);
  });
});
