import { spawnSync } from 'node:child_process';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

interface Example {
  summary: string;
  value: { message: string; status: string };
}
interface Operation {
  tags?: string[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: unknown; examples?: Record<string, Example> }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'post', 'put', 'delete'] as const;
const DELIVERY_ID = 'msg_01JDX3Q5N0W7S8T9V0X1Y2Z3A4';
const RECOVERY_ID = 'rec_01JDX3Q5N0W7S8T9V0X1Y2Z3A4';
const NAMES = { local: ['000*094@ringme.ru', '000*095@ringme.ru'], remote: ['+74951234567', '+74951234568'] };
const NAME_FIELD = { local: 'extension_name', remote: 'agent_number' };
const EVENT = { url: 'https://hooks.example.com/fordel/show.php', event_type: 'agent-login', method: 'GET' };

/** The body that provokes each documented validation message. */
const INVALID_BODIES: Record<string, object> = {
  'name must not be blank; name must be longer than or equal to 1 characters; name must be a string': { id: '12' },
  'agent_event_limit must not be less than 0': { agent_event_limit: -1 },
  'extension_name must not contain control or invisible format characters': { extension_name: 'a\u0001b' },
  'agent_number must be digits with an optional leading +, at most 31 digits': { agent_number: 'abc' },
  'status must be one of: available, logged_out': { status: 'busy' },
  'method must be one of: GET, POST': { ...EVENT, method: 'PATCH' },
  'give exactly one of extension_name (local agent) or agent_number (remote agent)': { client_id: '12', command: 'login' },
  'name must not be blank; name must be longer than or equal to 1 characters': { name: '' },
  'grant_type is required: client_credentials.': {},
  'Only grant_type=client_credentials is supported.': { grant_type: 'password' },
  'Unknown client_id or wrong client_secret.': { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'wrong' },
  'since must be an ISO 8601 date and time with its offset, e.g. 2026-11-25T04:00:00Z': { since: 'yesterday' },
  'since must not be in the future': { since: '2999-01-01T00:00:00Z' },
  'agent_event_id must be a positive integer': { since: '2026-01-01T00:00:00Z', agent_event_id: 0 },
  'state must be one of: dead': { since: '2026-01-01T00:00:00Z', state: 'pending' },
};

/** The query string that provokes the validation error of each query parameter. */
const BAD_QUERIES: Record<string, string> = {
  page: '?page=0',
  state: '?state=lost',
  after: '?after=zz',
  limit: '?limit=0',
  agent_type: '?agent_type=other',
  agent_id: '?agent_id=0',
};

/** What must exist for an error to be the answer: nothing, client 12, or client 12 with agents 136 and 137. */
type State = 'none' | 'client' | 'agents' | 'agents at the limit';
const STATE_FOR: Record<string, State> = {
  client_not_found: 'none',
  agent_not_found: 'client',
  delivery_not_found: 'client',
  recovery_not_found: 'client',
  client_exists: 'client',
  limit_exceeded: 'agents at the limit',
};

/**
 * The OpenAPI document: valid, every operation tagged with its resource and documented with its real answers, and
 * every error example one the operation really gives — each is provoked here, and the API's answer must equal it.
 */
describe('the OpenAPI document', () => {
  let t: TestApp;
  let document: Document;

  beforeAll(async () => {
    t = await createTestApp('openapi');
    document = (await t.http().get('/docs-json').expect(200)).body as Document;
  });
  afterAll(() => t.close());

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => ({ path, method, operation: item[method] })),
    );

  it('is valid by @apidevtools/swagger-parser', () => {
    const result = spawnSync(process.execPath, ['test/support/validate-openapi.mjs'], {
      input: JSON.stringify(document),
      encoding: 'utf8',
    });
    expect(result.stdout.trim()).toBe('valid');
  });

  it('tags every operation with its resource and documents its success answer with a schema', () => {
    for (const { path, method, operation } of operations()) {
      expect({ path, method, tags: operation.tags?.length ?? 0 }).toEqual({ path, method, tags: 1 });
      const success = Object.keys(operation.responses).filter((code) => code.startsWith('2'));
      expect({ path, method, success: success.length }).toEqual({ path, method, success: 1 });
      if (success[0] !== '204') expect(operation.responses[success[0]].content?.['application/json']?.schema).toBeDefined();
    }
  });

  it('documents every error with examples, and no target or limit errors on a plain GET', () => {
    for (const { path, method, operation } of operations()) {
      for (const [code, response] of Object.entries(operation.responses)) {
        if (code.startsWith('2')) continue;
        const content = response.content?.['application/json'];
        const examples = content?.examples ?? {};
        const documented =
          Object.keys(examples).length > 0 || (content?.schema as { example?: unknown } | undefined)?.example !== undefined;
        expect({ path, method, code, documented }).toEqual({ path, method, code, documented: true });
        if (method === 'get') {
          const codes = Object.values(examples).map((example) => example.value.status);
          expect(codes).not.toContain('target_not_allowed');
          expect(codes).not.toContain('limit_exceeded');
        }
      }
    }
  });

  it("gives exactly each documented error example's answer when that error is provoked", async () => {
    const checked: string[] = [];
    for (const { path, method, operation } of operations()) {
      const type = /\/agent\/remote(\/|$)/.test(path) ? 'remote' : 'local';
      for (const [code, response] of Object.entries(operation.responses)) {
        // 503 (health): MySQL or Redis down cannot be provoked here.
        if (code.startsWith('2') || code === '503') continue;
        for (const [key, example] of Object.entries(response.content?.['application/json']?.examples ?? {})) {
          const { status, message } = example.value;
          await prepare(STATE_FOR[status] ?? 'agents', type);
          const bad = /\((\w+)\)$/.exec(key)?.[1];
          const url = path
            .replace('{client_id}', bad === 'client_id' ? 'bad.id' : '12')
            .replace('{agent_id}', bad === 'agent_id' ? 'x' : '136')
            .replace('{event_id}', bad === 'event_id' ? 'x' : '150')
            .replace('{agent_type}', bad === 'agent_type' ? 'other' : 'local')
            .replace('{delivery_id}', DELIVERY_ID)
            .replace('{recovery_id}', RECOVERY_ID)
            .replace('{app_id}', '3f9c2d7a1b6e4c0d8a5f7e21');
          const query = bad && !path.includes(`{${bad}}`) ? (BAD_QUERIES[bad] ?? '') : '';
          let request = t.http()[method](url + query);
          if (status !== 'invalid_token') request = request.set(status === 'access_denied' ? pbx : admin);
          if (status === 'malformed_json') request = request.set('Content-Type', 'application/json').send('{"url": ');
          else if (operation.requestBody) request = request.send(bodyFor(path, method, type, status, message));
          const answer = await request;
          expect({ operation: `${method.toUpperCase()} ${path}`, example: key, code: answer.status, body: answer.body }).toEqual({
            operation: `${method.toUpperCase()} ${path}`,
            example: key,
            code: Number(code),
            body: { message, status },
          });
          checked.push(`${method} ${path} ${key}`);
        }
      }
    }
    expect(checked.length).toBeGreaterThan(100);
  });

  async function prepare(state: State, type: 'local' | 'remote'): Promise<void> {
    await t.sql('DELETE FROM clients');
    if (state === 'none') return;
    await t.http().post('/client/').set(admin).send({ id: '12', name: 'Ringme' }).expect(201);
    if (state === 'client') return;
    await t.sql(`INSERT INTO agents (id, client_id, agent_type, ${NAME_FIELD[type]}) VALUES (136, '12', ?, ?), (137, '12', ?, ?)`, [
      type,
      NAMES[type][0],
      type,
      NAMES[type][1],
    ]);
    if (state === 'agents') return;
    const [{ agent_event_limit: limit }] = await t.sql<{ agent_event_limit: number }>(
      "SELECT agent_event_limit FROM clients WHERE id = '12'",
    );
    for (let i = 0; i < limit; i++) {
      await t.sql("INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES ('12', 136, 'agent-login', 'GET', ?)", [
        EVENT.url,
      ]);
    }
    await t.sql("UPDATE clients SET agent_event_count = agent_event_limit WHERE id = '12'");
  }

  /** A body that passes validation and reaches the check the example is about, or the one the example's message is about. */
  function bodyFor(path: string, method: string, type: 'local' | 'remote', status: string, message: string): object {
    if (INVALID_BODIES[message]) return INVALID_BODIES[message];
    if (status === 'target_not_allowed') return { ...EVENT, url: 'http://10.0.0.1/hook' };
    if (path.includes('/event')) return EVENT;
    if (path.endsWith('/limit')) return { agent_event_limit: 20 };
    if (path.includes('/app')) return { name: 'CRM integration' };
    if (path.includes('/delivery/recover')) return { since: '2026-01-01T00:00:00Z' };
    if (path.startsWith('/pbx')) return { client_id: '12', extension_name: NAMES.local[0], command: 'login' };
    if (path.includes('/agent/')) return { [NAME_FIELD[type]]: NAMES[type][method === 'post' ? 0 : 1] };
    return { id: '12', name: 'Ringme' };
  }
});
