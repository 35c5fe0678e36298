import { clientWithToken, createApplication, fetchToken } from './support/client-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

const ACCESS_DENIED = { message: 'This token may not use this endpoint.', status: 'access_denied' };

describe("applications: a client's OAuth2 credentials, managed by the admin", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('applications');
    await t.http().post('/client/').set(admin).send({ id: 'acme', name: 'Acme' }).expect(201);
    await t.http().post('/client/').set(admin).send({ id: 'other', name: 'Other' }).expect(201);
  });
  afterAll(() => t.close());

  it('creates an application and shows its secret once, keeping only an argon2 hash of it', async () => {
    const response = await t.http().post('/client/acme/app/').set(admin).send({ name: 'CRM' }).expect(201);
    expect(response.body).toEqual({
      client_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      name: 'CRM',
      created_at: expect.any(String),
    });
    const [row] = await t.sql<{ client_id: string; secret_hash: string }>('SELECT client_id, secret_hash FROM applications WHERE id = ?', [
      response.body.client_id,
    ]);
    expect(row.client_id).toBe('acme');
    expect(row.secret_hash).toMatch(/^\$argon2id\$/);
    expect(row.secret_hash).not.toContain(response.body.client_secret);
  });

  it("lists a client's applications without their secrets, and only that client's", async () => {
    const second = await createApplication(t, 'acme', 'Billing');
    await createApplication(t, 'other', 'Elsewhere');
    const response = await t.http().get('/client/acme/app/').set(admin).expect(200);
    expect(response.body.map((app: { name: string }) => app.name)).toEqual(['CRM', 'Billing']);
    for (const app of response.body) expect(Object.keys(app).sort()).toEqual(['client_id', 'created_at', 'name']);
    expect(JSON.stringify(response.body)).not.toContain(second.client_secret);
  });

  it('revokes an application with DELETE: 204, the row is gone, and a second DELETE is 404 application_not_found', async () => {
    const app = await createApplication(t, 'acme', 'Short-lived');
    await t.http().delete(`/client/acme/app/${app.client_id}`).set(admin).expect(204, '');
    expect(await t.sql('SELECT id FROM applications WHERE id = ?', [app.client_id])).toEqual([]);
    const again = await t.http().delete(`/client/acme/app/${app.client_id}`).set(admin).expect(404);
    expect(again.body).toEqual({ message: expect.any(String), status: 'application_not_found' });
  });

  it("does not delete another client's application through this client's path", async () => {
    const app = await createApplication(t, 'other', 'Theirs');
    const response = await t.http().delete(`/client/acme/app/${app.client_id}`).set(admin).expect(404);
    expect(response.body.status).toBe('application_not_found');
    expect(await t.sql('SELECT id FROM applications WHERE id = ?', [app.client_id])).toHaveLength(1);
    await fetchToken(t, app);
  });

  it.each([
    ['post', '/client/ghost/app/', { name: 'x' }],
    ['get', '/client/ghost/app/', undefined],
    ['delete', '/client/ghost/app/0123456789abcdef01234567', undefined],
  ] as const)('answers %s %s for an unknown client with 404 client_not_found', async (method, path, body) => {
    const request = t.http()[method](path).set(admin);
    const response = await (body ? request.send(body) : request);
    expect([response.status, response.body.status]).toEqual([404, 'client_not_found']);
  });

  it.each([{}, { name: '' }, { name: 7 }, { name: 'x', client_secret: 'chosen' }])(
    'refuses %j with 400 validation_failed',
    async (body) => {
      const before = await t.sql('SELECT COUNT(*) AS n FROM applications');
      const response = await t.http().post('/client/acme/app/').set(admin).send(body).expect(400);
      expect(response.body).toEqual({ message: expect.any(String), status: 'validation_failed' });
      expect(await t.sql('SELECT COUNT(*) AS n FROM applications')).toEqual(before);
    },
  );

  it("refuses the PBX token and every client token, even on the client's own applications", async () => {
    const client = await clientWithToken(t, 'selfish');
    const app = await createApplication(t, 'selfish', 'Mine');
    for (const auth of [client.auth, pbx]) {
      for (const id of ['selfish', '@me']) {
        await t.http().post(`/client/${id}/app/`).set(auth).send({ name: 'more' }).expect(403, ACCESS_DENIED);
        await t.http().get(`/client/${id}/app/`).set(auth).expect(403, ACCESS_DENIED);
        await t.http().delete(`/client/${id}/app/${app.client_id}`).set(auth).expect(403, ACCESS_DENIED);
      }
    }
    expect(await t.sql('SELECT name FROM applications WHERE client_id = ? ORDER BY name', ['selfish'])).toEqual([
      { name: 'Mine' },
      { name: 'integration' },
    ]);
  });

  it('deletes the applications of a deleted client with it (foreign key)', async () => {
    const [fk] = await t.sql<{ DELETE_RULE: string }>(
      "SELECT DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'applications'",
    );
    expect(fk.DELETE_RULE).toBe('CASCADE');
  });
});
