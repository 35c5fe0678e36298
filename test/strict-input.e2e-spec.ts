import type http from 'node:http';
import { createAgent, createClient, createEvent, dbState, login } from './support/api-fixtures.js';
import { rawRequest, type RawRequest } from './support/raw-http.js';
import { eventually, Receiver } from './support/receiver.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

const ERROR = { message: expect.any(String), status: expect.any(String) };
const ids: Record<string, number | string> = {};
const fill = (path: string) => path.replace(/:(local|remote|levent|revent|delivery)\b/g, (_, key: string) => String(ids[key]));

/** Every endpoint that reads a body, with a valid body for it. */
const BODY_ENDPOINTS: [string, string, Record<string, unknown>][] = [
  ['POST', '/client/', { name: 'Another' }],
  ['PUT', '/client/x/limit/', { agent_event_limit: 5 }],
  ['POST', '/client/x/agent/local/', { extension_name: '555@x' }],
  ['PUT', '/client/x/agent/local/:local', { status: 'available' }],
  ['POST', '/client/x/agent/remote/', { agent_number: '+555' }],
  ['PUT', '/client/x/agent/remote/:remote', { status: 'available' }],
  ['POST', '/client/x/agent/local/:local/event/', { url: 'https://ok.example.com/', method: 'GET', event_type: 'agent-login' }],
  ['PUT', '/client/x/agent/local/:local/event/:levent', { method: 'POST' }],
  ['POST', '/client/x/agent/remote/:remote/event/', { url: 'https://ok.example.com/', method: 'GET', event_type: 'agent-login' }],
  ['PUT', '/client/x/agent/remote/:remote/event/:revent', { method: 'POST' }],
  ['POST', '/pbx/agent-command', { client_id: 'x', extension_name: '101@x', command: 'login' }],
];
const tokenFor = (path: string) => (path.startsWith('/pbx') ? pbx : admin);

describe('only exactly what the API accepts', () => {
  let t: TestApp;
  let server: http.Server;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    t = await createTestApp('strict_input', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0' }, { withWorker: true });
    server = t.app.getHttpServer() as http.Server;
    await createClient(t, 'x');
    ids.local = await createAgent(t, 'x', 'local', '101@x');
    ids.remote = await createAgent(t, 'x', 'remote', '+101');
    ids.levent = await createEvent(t, 'x', 'local', ids.local, login());
    ids.revent = await createEvent(t, 'x', 'remote', ids.remote, login());
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  /** Sends the raw request and expects exactly `{message, status}` with this code, and no row changed. */
  async function expectRefused(request: RawRequest, httpStatus: number, code: string) {
    const before = await dbState(t);
    const response = await rawRequest(server, { ...request, path: fill(request.path) });
    expect({ status: response.status, body: response.body }).toEqual({
      status: httpStatus,
      body: { message: expect.any(String), status: code },
    });
    expect(await dbState(t)).toEqual(before);
    return response;
  }

  describe('bodies that are not JSON: 415 unsupported_media_type', () => {
    const notJson: [string, Record<string, string>, (body: Record<string, unknown>) => string][] = [
      ['text/plain', { 'Content-Type': 'text/plain' }, (body) => JSON.stringify(body)],
      ['application/xml', { 'Content-Type': 'application/xml' }, () => '<status>available</status>'],
      [
        'form-encoded',
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        (body) => new URLSearchParams(body as Record<string, string>).toString(),
      ],
      [
        'multipart',
        { 'Content-Type': 'multipart/form-data; boundary=b' },
        () => '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--',
      ],
      ['no Content-Type at all', {}, (body) => JSON.stringify(body)],
    ];
    it.each(
      notJson.flatMap(([label, headers, encode]) =>
        BODY_ENDPOINTS.map(([method, path, body]) => [label, method, path, headers, encode(body)] as const),
      ),
    )('%s: %s %s', async (_label, method, path, headers, body) => {
      await expectRefused({ method, path, headers: { ...tokenFor(path), ...headers }, body }, 415, 'unsupported_media_type');
    });

    it('does not apply a form-encoded status change (today it logged the agent in)', async () => {
      await expectRefused(
        {
          method: 'PUT',
          path: '/client/x/agent/local/:local',
          headers: { ...admin, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'status=available',
        },
        415,
        'unsupported_media_type',
      );
      expect(await t.sql('SELECT agent_status FROM agents WHERE id = ?', [ids.local])).toEqual([{ agent_status: 'logged_out' }]);
    });

    it.each(['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/merge-patch+json', 'Application/JSON'])(
      'reads %s as JSON',
      async (contentType) => {
        const response = await rawRequest(server, {
          method: 'PUT',
          path: '/client/x/limit/',
          headers: { ...admin, 'Content-Type': contentType },
          body: '{"agent_event_limit": 21}',
        });
        expect([response.status, response.body]).toEqual([200, { agent_event_limit: 21, agent_event_count: 2, rate_limit_per_hour: 3600 }]);
      },
    );

    it('answers a JSON body in a charset other than UTF-8 with 415', async () => {
      await expectRefused(
        {
          method: 'PUT',
          path: '/client/x/limit/',
          headers: { ...admin, 'Content-Type': 'application/json; charset=latin1' },
          body: '{"agent_event_limit": 3}',
        },
        415,
        'unsupported_media_type',
      );
    });
  });

  describe('POSTs that take no body', () => {
    beforeAll(async () => {
      await t.http().put(`/client/x/agent/local/${ids.local}`).set(admin).send({ status: 'available' }).expect(200);
      const [delivery] = await t.sql<{ id: string }>('SELECT id FROM deliveries LIMIT 1');
      ids.delivery = delivery.id;
    });
    // The worker runs in this suite: let it finish the retried delivery before other tests compare rows.
    afterAll(async () => {
      await eventually(async () => (await t.sql<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'"))[0].n === 0);
    });

    it.each<[string, Record<string, string>, string | undefined]>([
      ['no Content-Type and no body', {}, undefined],
      ['Content-Type: application/json and no body', { 'Content-Type': 'application/json' }, undefined],
      ['Content-Type: application/json and Content-Length: 0', { 'Content-Type': 'application/json' }, ''],
      ['Content-Type: text/plain and no body', { 'Content-Type': 'text/plain' }, ''],
      ['Content-Type: application/x-www-form-urlencoded and no body', { 'Content-Type': 'application/x-www-form-urlencoded' }, ''],
      ['an empty JSON object', { 'Content-Type': 'application/json' }, '{}'],
    ])('rotate the signing secret and retry a delivery with %s', async (_label, headers, body) => {
      const rotate = await rawRequest(server, {
        method: 'POST',
        path: '/api/ver1.0/client/x/signing-secret/rotate',
        headers: { ...admin, ...headers },
        body,
      });
      expect([rotate.status, Object.keys(rotate.body as object).sort()]).toEqual([
        200,
        ['previous_signing_secret', 'previous_valid_until', 'signing_secret'],
      ]);
      const retry = await rawRequest(server, {
        method: 'POST',
        path: fill('/client/x/delivery/:delivery/retry'),
        headers: { ...admin, ...headers },
        body,
      });
      expect([retry.status, (retry.body as { id: string }).id]).toEqual([202, ids.delivery]);
    });
  });

  describe('JSON that is not an object: 400 validation_failed', () => {
    it.each(['null', '0', '"x"', 'true', '[]', '[{"name": "x"}]', '1e400'])('%s', async (raw) => {
      for (const [method, path] of BODY_ENDPOINTS) {
        await expectRefused(
          { method, path, headers: { ...tokenFor(path), 'Content-Type': 'application/json' }, body: raw },
          400,
          'validation_failed',
        );
      }
      await expectRefused(
        { method: 'POST', path: '/client/x/signing-secret/rotate', headers: { ...admin, 'Content-Type': 'application/json' }, body: raw },
        400,
        'validation_failed',
      );
    });
  });

  describe('fields named like Object.prototype members: 400 validation_failed naming them', () => {
    const NAMES = [
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'isPrototypeOf',
      '__defineGetter__',
      'toLocaleString',
    ];
    it.each(NAMES.flatMap((name) => BODY_ENDPOINTS.map(([method, path, body]) => [name, method, path, body] as const)))(
      '%s in %s %s',
      async (name, method, path, body) => {
        const raw = `${JSON.stringify(body).slice(0, -1)}, ${JSON.stringify(name)}: {"polluted": true}}`;
        const response = await expectRefused(
          { method, path, headers: { ...tokenFor(path), 'Content-Type': 'application/json' }, body: raw },
          400,
          'validation_failed',
        );
        expect((response.body as { message: string }).message).toContain(name);
      },
    );

    it.each(NAMES)('%s in the query of the delivery log', async (name) => {
      await expectRefused({ method: 'GET', path: `/client/x/delivery/?${name}=1`, headers: admin }, 400, 'validation_failed');
    });
  });

  describe('deep JSON', () => {
    it.each([33, 1000, 8000])('refuses a body nested %i levels deep with 400, not a 500', async (depth) => {
      const raw = `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`.slice(0, 16_000);
      const body = raw.length < 16_000 ? raw : `${'['.repeat(8000)}${']'.repeat(8000)}`;
      for (const [method, path] of BODY_ENDPOINTS) {
        const response = await rawRequest(server, {
          method,
          path: fill(path),
          headers: { ...tokenFor(path), 'Content-Type': 'application/json' },
          body,
        });
        expect([response.status, response.body]).toEqual([
          400,
          { message: expect.any(String), status: expect.stringMatching(/^(validation_failed|malformed_json)$/) },
        ]);
      }
    });

    it('reads brackets inside strings as text, not nesting', async () => {
      await t
        .http()
        .post('/client/')
        .set(admin)
        .send({ id: 'brackets', name: `${'[{'.repeat(40)}"\\` })
        .expect(201);
    });
  });

  describe('paging parameters', () => {
    it.each([
      'page=1e20',
      'page=1.5',
      'page=0x10',
      'page=0',
      'page=-1',
      'page=+1',
      'page=01',
      'page=',
      'page=%201',
      'page=10001',
      'page=1&page=2',
      'per_page=-1',
      'per_page=101',
      'per_page=1e2',
      'per_page=abc',
    ])('refuses %s with 400 validation_failed', async (query) => {
      await expectRefused({ method: 'GET', path: `/client/x/delivery/?${query}`, headers: admin }, 400, 'validation_failed');
      await expectRefused(
        { method: 'GET', path: `/client/x/agent/local/:local/event/:levent/delivery/?${query}`, headers: admin },
        400,
        'validation_failed',
      );
    });

    it('accepts the last page there can be, at the most per page', async () => {
      const response = await t.http().get('/client/x/delivery/?page=10000&per_page=100').set(admin).expect(200);
      expect(response.body).toEqual({ deliveries: [], page: 10000, per_page: 100, has_more: false });
    });
  });

  describe('names', () => {
    const BAD = [
      ['a NUL', '101\u0000'],
      ['a tab', '101\t'],
      ['a newline', '101\nx'],
      ['DEL', '101\u007f'],
      ['a C1 control', '101\u0085'],
      ['a C1 CSI', '\u009b101'],
      ['U+2028', '101\u2028'],
      ['U+2029', '101\u2029'],
      ['a right-to-left override', '\u202e101@x'],
      ['a left-to-right embedding', '\u202a101'],
      ['a first-strong isolate', '\u2068101\u2069'],
      ['a zero-width space', '10\u200b1'],
      ['a zero-width joiner', '10\u200d1'],
      ['a right-to-left mark', '\u200f101'],
      ['a byte-order mark', '\ufeff101'],
      ['a word joiner', '10\u20601'],
      ['a soft hyphen', '10\u00ad1'],
      ['a lone surrogate', '101\ud800'],
      ['spaces only', '   '],
      ['an ideographic space only', '\u3000'],
      ['a Hangul filler only', '\u3164'],
    ];
    it.each(BAD)('refuses an extension_name with %s', async (_label, name) => {
      const body = JSON.stringify({ extension_name: name });
      await expectRefused(
        { method: 'POST', path: '/client/x/agent/local/', headers: { ...admin, 'Content-Type': 'application/json' }, body },
        400,
        'validation_failed',
      );
      await expectRefused(
        { method: 'PUT', path: '/client/x/agent/local/:local', headers: { ...admin, 'Content-Type': 'application/json' }, body },
        400,
        'validation_failed',
      );
      const command = JSON.stringify({ client_id: 'x', extension_name: name, command: 'login' });
      await expectRefused(
        { method: 'POST', path: '/pbx/agent-command', headers: { ...pbx, 'Content-Type': 'application/json' }, body: command },
        400,
        'validation_failed',
      );
    });

    it.each(BAD)("refuses a client's name with %s", async (_label, name) => {
      const body = JSON.stringify({ id: 'named', name });
      await expectRefused(
        { method: 'POST', path: '/client/', headers: { ...admin, 'Content-Type': 'application/json' }, body },
        400,
        'validation_failed',
      );
    });

    it.each(['000*094@ringme.ru', 'Ольга Петрова', '王小明 101', 'Zoë & Anaïs (night shift)', 'emoji 📞', 'a b'])(
      'accepts the name %j',
      async (name) => {
        const agent = await t.http().post('/client/x/agent/local/').set(admin).send({ extension_name: name }).expect(201);
        expect(agent.body.extension_name).toBe(name);
        await t.http().delete(`/client/x/agent/local/${agent.body.id}`).set(admin).expect(204);
        await t.http().post('/client/').set(admin).send({ name }).expect(201);
      },
    );
  });

  describe("a URL's user-info", () => {
    it('is shown with its password masked in the agent event and the delivery log, and still sent', async () => {
      await createClient(t, 'creds');
      const agentId = await createAgent(t, 'creds', 'remote', '+777');
      const url = `http://hook-user:s3cret-pass@127.0.0.1:${receiver.port}/with-credentials?a=1`;
      const shown = `http://hook-user:***@127.0.0.1:${receiver.port}/with-credentials?a=1`;
      const base = `/client/creds/agent/remote/${agentId}/event/`;
      const created = await t.http().post(base).set(admin).send({ url, method: 'POST', event_type: 'agent-login' }).expect(201);
      expect(created.body.url).toBe(shown);
      const eventId = created.body.id as number;
      await t
        .http()
        .get(base)
        .set(admin)
        .expect(200, [{ url: shown, method: 'POST', event_type: 'agent-login', id: eventId }]);
      await t
        .http()
        .get(`${base}${eventId}`)
        .set(admin)
        .expect(200, { url: shown, method: 'POST', event_type: 'agent-login', id: eventId });
      const updated = await t.http().put(`${base}${eventId}`).set(admin).send({ method: 'GET' }).expect(200);
      expect(updated.body.url).toBe(shown);
      expect(await t.sql('SELECT url FROM agent_events WHERE id = ?', [eventId])).toEqual([{ url }]);

      const received = receiver.requests.length;
      await t.http().put(`/client/creds/agent/remote/${agentId}`).set(admin).send({ status: 'available' }).expect(200);
      const [request] = (await receiver.waitFor(received + 1)).slice(received);
      expect(request.url).toMatch(/^\/with-credentials\?a=1&agent_status=available/);
      expect(request.headers.authorization).toBe(`Basic ${Buffer.from('hook-user:s3cret-pass').toString('base64')}`);

      const log = await t.http().get('/client/creds/delivery/').set(admin).expect(200);
      expect(log.body.deliveries.map((delivery: { url: string }) => delivery.url)).toEqual([shown]);
      const detail = await t.http().get(`/client/creds/delivery/${log.body.deliveries[0].id}`).set(admin).expect(200);
      expect(detail.body.url).toBe(shown);
      const perEvent = await t.http().get(`${base}${eventId}/delivery/`).set(admin).expect(200);
      expect(perEvent.body.deliveries[0].url).toBe(shown);
      expect(JSON.stringify([created.body, log.body, detail.body, perEvent.body])).not.toContain('s3cret-pass');
    });
  });

  describe('unknown routes and wrong methods', () => {
    it.each([
      ['GET', '/nowhere'],
      ['GET', '/'],
      ['GET', '/api/ver1.0'],
      ['GET', '/api/ver1.0?x'],
      ['GET', '/api/ver1.0/?x=1'],
      ['POST', '/api/ver1.0?x'],
      ['GET', '/api/ver1.0x/client/x'],
      ['GET', '//client'],
      ['GET', '//client/x'],
      ['GET', '/client/x/agent/ufo/'],
      ['PATCH', '/nowhere'],
      ['POST', '/nowhere'],
      ['GET', '/client/x/agent/local/1/event/1/extra'],
    ])('%s %s: 404 not_found', async (method, path) => {
      const response = await expectRefused(
        { method, path, headers: { ...admin, 'Content-Type': 'text/plain' }, body: method === 'GET' ? undefined : 'x' },
        404,
        'not_found',
      );
      expect(response.headers['x-powered-by']).toBeUndefined();
    });

    it.each([
      ['/client/%zz', 'GET'],
      ['/client/x/agent/local/%zz', 'GET'],
    ])('%s: the error shape', async (path, method) => {
      const response = await rawRequest(server, { method, path, headers: admin });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.body).toEqual(ERROR);
    });

    it.each([
      ['DELETE', '/client/x', 'GET, HEAD'],
      ['PATCH', '/client/x', 'GET, HEAD'],
      ['PUT', '/client/', 'POST'],
      ['DELETE', '/api/ver1.0/client/x/limit/', 'GET, PUT, HEAD'],
      ['POST', '/client/x/agent/local/:local', 'GET, PUT, DELETE, HEAD'],
      ['PATCH', '/client/x/agent/remote/:remote/event/:revent', 'GET, PUT, DELETE, HEAD'],
      ['GET', '/client/x/signing-secret/rotate', 'POST'],
      ['GET', '/pbx/agent-command', 'POST'],
      ['POST', '/health', 'GET, HEAD'],
    ])('%s %s: 405 method_not_allowed with Allow: %s', async (method, path, allow) => {
      const response = await expectRefused(
        { method, path, headers: { ...admin, 'Content-Type': 'text/plain' }, body: 'x' },
        405,
        'method_not_allowed',
      );
      expect(response.headers.allow?.split(', ').sort()).toEqual(allow.split(', ').sort());
    });
  });

  describe('size and headers', () => {
    it('answers a body over 16 KiB with 413 payload_too_large, and reads one just under', async () => {
      const pad = (bytes: number) => {
        const body = { agent_event_limit: 6 };
        const text = JSON.stringify(body);
        return `${text.slice(0, -1)}${' '.repeat(bytes - text.length)}}`;
      };
      await expectRefused(
        { method: 'PUT', path: '/client/x/limit/', headers: { ...admin, 'Content-Type': 'application/json' }, body: pad(16 * 1024 + 1) },
        413,
        'payload_too_large',
      );
      const fits = await rawRequest(server, {
        method: 'PUT',
        path: '/client/x/limit/',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: pad(16 * 1024),
      });
      expect(fits.status).toBe(200);
    });

    it("sends security headers and no X-Powered-By: a policy that allows nothing on JSON, helmet's whole set on the pages", async () => {
      const paths = { api: ['/client/x', '/nowhere', '/health', '/api/ver1.0/client/x'], page: ['/docs', '/docs-json', '/admin/queues'] };
      for (const [kind, list] of Object.entries(paths)) {
        for (const path of list) {
          const response = await t.http().get(path).set(admin);
          expect(response.headers['x-powered-by']).toBeUndefined();
          expect(response.headers['x-content-type-options']).toBe('nosniff');
          expect(response.headers['content-security-policy']).toContain(kind === 'api' ? "default-src 'none'" : "default-src 'self'");
          expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
          expect(response.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
          expect(response.headers['x-frame-options']).toBe(kind === 'api' ? 'DENY' : 'SAMEORIGIN');
          // The headers that concern HTML documents only go with the pages.
          expect(response.headers['cross-origin-opener-policy']).toBe(kind === 'api' ? undefined : 'same-origin');
        }
      }
    });
  });
});
