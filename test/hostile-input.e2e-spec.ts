import fc from 'fast-check';
import type http from 'node:http';
import { routesOf } from '../src/app.setup.js';
import { createAgent, createClient, createEvent, login } from './support/api-fixtures.js';
import { clientWithToken, createApplication, fetchToken } from './support/client-fixtures.js';
import { rawRequest, type RawResponse } from './support/raw-http.js';
import { ADMIN_TOKEN, admin, createTestApp, PBX_TOKEN, pbx, type TestApp } from './support/test-app.js';

/**
 * Thousands of generated requests to every endpoint of the OpenAPI document, with every kind of token, wrong
 * types, unknown and prototype-named fields, junk ids, odd strings, malformed and deep JSON and wrong content
 * types. Invariants: no 5xx; every error is exactly `{"message", "status"}`; a caller reaches only what its
 * token allows; and no row changes in MySQL for a request that answered 4xx or carried a token that may change
 * nothing. `FUZZ_RUNS` sets the number of requests, `FUZZ_SEED` replays a run (the seed is in every failure).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
/** Generous: a request takes ~15 ms alone, more on a loaded machine. */
const TIMEOUT_MS = 60_000 + RUNS * 100;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CLIENT = 'fa';

interface Operation {
  method: string;
  /** The OpenAPI path, `/client/{client_id}/...`. */
  path: string;
  params: string[];
  query: string[];
  bodySchema?: { properties?: Record<string, Schema>; required?: string[] };
  public: boolean;
}
interface Schema {
  type?: string;
  enum?: unknown[];
  example?: unknown;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * Every kind of caller: what its requests may reach with a 2xx, and whether they may change rows at all. Paths name
 * client A's ids (or `@me`): A's own token reaches A's resources but not the admin's operations; client B's token
 * aimed at A's paths reaches nothing of A's and changes nothing (through `@me` it reaches its own client only).
 */
interface TokenKind {
  name: string;
  headers: fc.Arbitrary<Record<string, string>>;
  mayReach: (operation: Operation, path: string, method: string) => boolean;
  mayChange: (path: string) => boolean;
}
/** Client tokens, issued once the app runs (the arbitraries read them when they generate). */
const clientTokens = { a: '', b: '' };
/** What only the admin may do on a client's paths: create clients, change limits, manage applications. */
const ADMIN_ONLY = (operation: Operation, method: string) =>
  (method === 'POST' && operation.path === '/client') ||
  (method === 'PUT' && operation.path.endsWith('/limit')) ||
  operation.path.startsWith('/client/{client_id}/app');
/** The operation's path with the method actually sent (requests sometimes send another one). */
const OWN_CLIENT = (operation: Operation, method: string) =>
  operation.path.startsWith('/client/{client_id}') && !ADMIN_ONLY(operation, method);
const WRONG_AUTHORIZATION = fc.oneof(
  fc.string({ maxLength: 40 }).map((token) => `Bearer ${token}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
    `Bearer ${ADMIN_TOKEN}x`,
    `Bearer ${ADMIN_TOKEN.toUpperCase()}`,
    `Bearer  ${PBX_TOKEN} ${ADMIN_TOKEN}`,
    `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
    ADMIN_TOKEN,
    `Token ${ADMIN_TOKEN}`,
    'Bearer null',
    'Bearer undefined',
  ),
);
const TOKEN_KINDS: TokenKind[] = [
  { name: 'none', headers: fc.constant({}), mayReach: (op) => op.public, mayChange: () => false },
  {
    name: 'wrong',
    headers: WRONG_AUTHORIZATION.map((value) => ({ Authorization: value })),
    mayReach: (op) => op.public,
    mayChange: () => false,
  },
  {
    name: 'admin',
    headers: fc.constantFrom(admin, { Authorization: `bearer ${ADMIN_TOKEN}` }),
    mayReach: () => true,
    mayChange: () => true,
  },
  { name: 'pbx', headers: fc.constant(pbx), mayReach: (op) => op.public || op.path.startsWith('/pbx/'), mayChange: () => true },
  {
    name: 'client A',
    headers: fc.constant(null).map(() => ({ Authorization: `Bearer ${clientTokens.a}` })),
    mayReach: (op, _path, method) => op.public || OWN_CLIENT(op, method),
    mayChange: () => true,
  },
  {
    name: "client B on A's paths",
    headers: fc.constant(null).map(() => ({ Authorization: `Bearer ${clientTokens.b}` })),
    mayReach: (op, path, method) => op.public || (OWN_CLIENT(op, method) && path.includes('/client/@me')),
    mayChange: (path) => path.includes('/client/@me'),
  },
];

const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineSetter__',
];
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\t\n',
  '\u202eevil',
  'a\u200bb',
  '\ufeff',
  '\u2028',
  '\ud800',
  '\udfff\ud800',
  '📞🔥',
  'ẞ̴̧̛̗̤̼',
  "1' OR '1'='1",
  '1; DROP TABLE agents; --',
  '<script>alert(1)</script>',
  '${7*7}{{7*7}}',
  '%s%n%x',
  '../../etc/passwd',
  'null',
  'true',
  '0',
  '-0',
  '1e309',
  'NaN',
  '@me',
  'x'.repeat(256),
  'y'.repeat(3000),
  'javascript:alert(1)',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::ffff:127.0.0.1]/',
  'http://user:pass@host.example.com/',
];
const JUNK_IDS = [
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '01',
  '+1',
  '4294967295',
  '4294967296',
  '99999999999999999999',
  '9'.repeat(400),
  '@me',
  '@ME',
  '%00',
  '%zz',
  '%E0%A4%A',
  '%2F',
  '..',
  '%2e%2e',
  '__proto__',
  'constructor',
  'null',
  '[]',
  '%7B%7D',
  'a%20b',
  '%F0%9F%93%9E',
  'msg_',
  'msg_01KMZ3T3XK2J8Q6D0V6B1N7R4S',
  "1'",
  'x'.repeat(70),
];

/** Percent-encodes the UTF-8 bytes of any string, lone surrogates included (as U+FFFD, the way they go on the wire). */
const percent = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

const oddString = fc.oneof(fc.constantFrom(...ODD_STRINGS), fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  oddString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, [], {}, [null], { '': 1 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** What fills a path parameter: a live id of the suite's fixtures (by index, resolved when sent) or junk. */
type ParamChoice = { live: number } | { junk: string };
const paramChoice: fc.Arbitrary<ParamChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((live) => ({ live })) },
  { weight: 3, arbitrary: fc.constantFrom(...JUNK_IDS).map((junk) => ({ junk })) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((text) => ({ junk: percent(text) })) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 30n }).map((n) => ({ junk: String(n) })) },
);

/** A JSON text with exactly these keys, in this order (an object literal would turn `__proto__` into a prototype). */
const jsonObject = (entries: [string, unknown][]) =>
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`).join(',')}}`;

function validValue(name: string, schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (name === 'url')
    return fc.constantFrom('https://hooks.example.com/in', 'http://receiver.example.org/a?b=1', 'https://u:p@hooks.example.com/x');
  if (name === 'client_id') return fc.constantFrom(CLIENT, 'nobody');
  if (name === 'agent_number') return fc.nat({ max: 99999 }).map((n) => `+7495${n}`);
  if (schema.type === 'integer' || schema.type === 'number')
    return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1000, 1000) });
  if (name === 'id') return fc.stringMatching(/^[a-z0-9_-]{1,12}$/);
  return fc.oneof(
    fc.constant(String(schema.example ?? 'x')),
    fc.string({ minLength: 1, maxLength: 20 }).map((s) => `${s}@fuzz`),
  );
}

/** A body built on the operation's schema: valid fields, some with hostile values, some missing, some extra. */
function schemaBody(operation: Operation): fc.Arbitrary<string> {
  const properties = Object.entries(operation.bodySchema?.properties ?? {});
  const field = ([name, schema]: [string, Schema]) =>
    fc.oneof(
      { weight: 4, arbitrary: validValue(name, schema).map((value) => [[name, value]]) },
      { weight: 1, arbitrary: hostileValue.map((value) => [[name, value]]) },
      { weight: 1, arbitrary: fc.constant([]) },
    );
  const extra = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, 'id', 'secret', 'client_id', 'agent_id', ''), fc.string({ maxLength: 10 })),
      hostileValue,
    ),
    { maxLength: 2 },
  );
  return fc
    .tuple(fc.tuple(...properties.map(field)), fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: extra }))
    .map(([fields, extras]) => jsonObject([...(fields as [string, unknown][][]).flat(), ...(extras as [string, unknown][])]));
}

const deepJson = fc
  .tuple(fc.integer({ min: 20, max: 6000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
const rawBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    'null',
    '0',
    '"x"',
    'true',
    '[]',
    '[{}]',
    '{',
    '{"a":',
    '{"a" 1}',
    "{'a':1}",
    '{"a":1,}',
    'nul',
    '\u0000',
    '{"a":"\\ud800"}',
    ' ',
    '{}{}',
    '{"__proto__":{"isAdmin":true}}',
  ),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 50 }),
  deepJson,
  fc.integer({ min: 16_000, max: 17_000 }).map((size) => `{"name":"${'z'.repeat(size)}"}`),
);

const CONTENT_TYPES: (string | undefined)[] = [
  undefined,
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/jsonx',
  'application/vnd.api+json',
  'application/json; charset=utf-8',
  '',
  'application/json, text/plain',
];
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
);

interface Generated {
  operation: number;
  token: number;
  authorization: Record<string, string>;
  method?: string;
  params: ParamChoice[];
  prefix: string;
  slash: boolean;
  query: [string, string][];
  body?: string;
  contentType?: string;
}

function requests(operations: Operation[]): fc.Arbitrary<Generated> {
  return fc.tuple(fc.nat({ max: operations.length - 1 }), fc.nat({ max: TOKEN_KINDS.length - 1 })).chain(([index, token]) => {
    const operation = operations[index];
    const queryValue = fc.oneof(fc.constantFrom('1', '2', '100', 'pending', 'dead', 'succeeded'), fc.constantFrom(...JUNK_IDS), oddString);
    const queryKey = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...(operation.query.length ? operation.query : ['page'])) },
      { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, 'x', 'page[]') },
    );
    const body = operation.bodySchema
      ? fc.oneof({ weight: 5, arbitrary: schemaBody(operation) }, { weight: 2, arbitrary: rawBody })
      : fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: rawBody });
    return fc.record({
      operation: fc.constant(index),
      token: fc.constant(token),
      authorization: TOKEN_KINDS[token].headers,
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      ),
      params: fc.tuple(...operation.params.map(() => paramChoice)),
      prefix: fc.constantFrom('', '/api/ver1.0'),
      slash: fc.boolean(),
      query: fc.array(fc.tuple(queryKey, queryValue), { maxLength: operation.query.length ? 3 : 1 }),
      body,
      contentType,
    });
  });
}

describe('hostile input, generated', () => {
  let t: TestApp;
  let server: http.Server;
  let operations: Operation[];
  let tables: string[];
  const live = {
    clients: [CLIENT],
    local: [] as number[],
    remote: [] as number[],
    events: new Map<number, number[]>(),
    deliveries: [] as string[],
  };

  async function checksum(): Promise<string> {
    const rows = await t.sql<{ Table: string; Checksum: unknown }>(`CHECKSUM TABLE ${tables.join(', ')}`);
    return rows.map((row) => `${row.Table}=${row.Checksum}`).join(' ');
  }

  /** The live ids requests may aim at; an agent of each type is made again when the fuzzer deleted the last. */
  async function refreshLiveIds(): Promise<void> {
    const clients = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM clients WHERE id = ?', [CLIENT]);
    if (clients[0].n === 0) await createClient(t, CLIENT);
    for (const type of ['local', 'remote'] as const) {
      const agents = await t.sql<{ id: number }>('SELECT id FROM agents WHERE client_id = ? AND agent_type = ? ORDER BY id', [
        CLIENT,
        type,
      ]);
      live[type] = agents.length
        ? agents.map((agent) => agent.id)
        : [await createAgent(t, CLIENT, type, type === 'local' ? `fz${Date.now()}@x` : `+${Date.now()}`)];
    }
    live.events.clear();
    for (const event of await t.sql<{ id: number; agent_id: number }>('SELECT id, agent_id FROM agent_events WHERE client_id = ?', [
      CLIENT,
    ])) {
      live.events.set(event.agent_id, [...(live.events.get(event.agent_id) ?? []), event.id]);
    }
    live.deliveries = (
      await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE client_id = ? ORDER BY id DESC LIMIT 20', [CLIENT])
    ).map((row) => row.id);
  }

  function pathOf(request: Generated, operation: Operation): string {
    const pick = <T>(choice: ParamChoice, pool: T[]) =>
      'junk' in choice ? choice.junk : String(pool.length ? pool[choice.live % pool.length] : 1);
    const values: Record<string, string> = {};
    operation.params.forEach((name, i) => {
      const choice = request.params[i];
      const named = values.agent_type ?? operation.path.match(/\/agent\/(local|remote)\//)?.[1];
      const type = named === 'remote' ? 'remote' : 'local';
      if (name === 'client_id') values[name] = pick(choice, live.clients);
      else if (name === 'agent_type') values[name] = pick(choice, ['local', 'remote']);
      else if (name === 'agent_id') values[name] = pick(choice, live[type]);
      else if (name === 'event_id')
        values[name] = pick(choice, live.events.get(Number(values.agent_id)) ?? [...live.events.values()].flat());
      else if (name === 'delivery_id') values[name] = pick(choice, live.deliveries);
      else values[name] = pick(choice, ['1']);
    });
    const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]);
    const query = request.query.map(([key, value]) => `${percent(key)}=${percent(value)}`).join('&');
    return `${request.prefix}${path}${request.slash ? '/' : ''}${query ? `?${query}` : ''}`;
  }

  beforeAll(async () => {
    t = await createTestApp('hostile_input', { RATE_LIMIT_PER_HOUR: '1000000' });
    server = t.app.getHttpServer() as http.Server;
    await createClient(t, CLIENT);
    clientTokens.a = await fetchToken(t, await createApplication(t, CLIENT));
    clientTokens.b = (await clientWithToken(t, `${CLIENT}b`)).token;
    const agentId = await createAgent(t, CLIENT, 'local', '101@fuzz');
    await createEvent(t, CLIENT, 'local', agentId, login());
    await t.http().put(`/client/${CLIENT}/agent/local/${agentId}`).set(admin).send({ status: 'available' }).expect(200);
    await refreshLiveIds();
    tables = (await t.sql<Record<string, string>>('SHOW TABLES')).map((row) => Object.values(row)[0]);

    const { body: document } = await t.http().get('/docs-json').expect(200);
    const resolve = (schema: { $ref?: string } | undefined) =>
      schema?.$ref ? document.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
    operations = Object.entries(document.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => {
        const parameters = (operation.parameters ?? []) as { in: string; name: string }[];
        const content = (operation.requestBody as { content?: Record<string, { schema?: { $ref?: string } }> } | undefined)?.content;
        return {
          method: method.toUpperCase(),
          path,
          // In the order they stand in the path: agent_type decides which agents' ids agent_id is drawn from.
          params: [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]),
          query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
          bodySchema: content ? resolve(content['application/json']?.schema) : undefined,
          public: !operation.security,
        };
      }),
    );
  });
  afterAll(() => t.close());

  it('covers every route the app answers: each is in the OpenAPI document the requests are generated from', () => {
    const routes = routesOf(t.app)
      // Not API routes: HEAD (Fastify's own for every GET), the docs and Prometheus' /metrics (basic auth, outside
      // the API document).
      .filter((route) => !route.startsWith('HEAD ') && !route.includes(' /docs') && !route.endsWith(' /metrics'));
    const documented = operations.map((operation) => `${operation.method} ${operation.path.replace(/\{(\w+)\}/g, ':$1')}`);
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((route) => !documented.includes(route))).toEqual([]);
  });

  it(
    `answers ${RUNS} generated requests with no 5xx, only {message, status} errors, and no change from a refused request (seed ${SEED})`,
    async () => {
      const statuses = new Map<string, number>();
      const hits = new Set<string>();
      let baseline = await checksum();
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(requests(operations), async (request) => {
          const operation = operations[request.operation];
          const kind = TOKEN_KINDS[request.token];
          const method = request.method ?? operation.method;
          const path = pathOf(request, operation);
          const headers: Record<string, string> = { ...request.authorization };
          if (request.contentType !== undefined && request.body !== undefined) headers['Content-Type'] = request.contentType;
          let response: RawResponse;
          try {
            response = await rawRequest(server, { method, path, headers, body: request.body });
          } catch (error) {
            throw new Error(`${method} ${path} as ${kind.name}: the connection failed: ${(error as Error).message}`);
          }
          sent++;
          hits.add(`${operation.method} ${operation.path}`);
          statuses.set(`${response.status}`, (statuses.get(`${response.status}`) ?? 0) + 1);
          const what = `${method} ${path} as ${kind.name} (${headers['Content-Type'] ?? 'no Content-Type'}, body ${JSON.stringify(request.body?.slice(0, 200))})`;

          expect([what, response.status < 500]).toEqual([what, true]);
          if (response.status >= 400) {
            const body = response.body as Record<string, unknown> | undefined;
            const shape =
              body && typeof body === 'object' ? Object.keys(body).sort().join(',') : `not JSON: ${response.text.slice(0, 100)}`;
            expect([what, response.status, shape, typeof body?.message, typeof body?.status]).toEqual([
              what,
              response.status,
              'message,status',
              'string',
              'string',
            ]);
            expect([what, response.headers['content-type']]).toEqual([what, expect.stringMatching(/^application\/json/)]);
          } else if (method !== 'OPTIONS') {
            expect([what, kind.name, kind.mayReach(operation, path, method)]).toEqual([what, kind.name, true]);
          }
          expect(response.headers['x-powered-by']).toBeUndefined();

          const now = await checksum();
          if (response.status >= 400 || !kind.mayChange(path)) {
            expect([what, response.status, now]).toEqual([what, response.status, baseline]);
          } else if (now !== baseline) {
            await refreshLiveIds();
            baseline = await checksum();
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      if (process.env.FUZZ_RUNS) {
        console.log(`hostile input: ${sent} requests, seed ${SEED}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
      }
      expect([...hits].sort()).toEqual(operations.map((operation) => `${operation.method} ${operation.path}`).sort());
    },
    TIMEOUT_MS,
  );
});
