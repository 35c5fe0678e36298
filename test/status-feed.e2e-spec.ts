import mysql from 'mysql2/promise';
import { eventually } from './support/receiver.js';
import { createAgent, createClient, createEvent, login, logout, setStatus } from './support/api-fixtures.js';
import { clientWithToken } from './support/client-fixtures.js';
import { admin, pbx, createTestApp, type TestApp } from './support/test-app.js';

interface FeedItem {
  agent_id: number;
  agent_type: string;
  extension_name?: string;
  agent_number?: string;
  agent_status: string;
  event_source: string;
  sequence: number;
  changed_at: string;
  cursor: string;
}

interface FeedPage {
  status_changes: FeedItem[];
  next_cursor: string;
  has_more: boolean;
}

const ROUNDS = Number(process.env.FEED_ROUNDS ?? 6);
const SUBSCRIPTIONS = 20;

/** A client's status changes in commit order, paged by cursor: `GET /client/{client_id}/status-change/`. */
describe('the status-change feed', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp('status-feed');
  });
  afterAll(() => t.close());

  const page = async (clientId: string, query: Record<string, string | number> = {}, auth = admin): Promise<FeedPage> =>
    (await t.http().get(`/client/${clientId}/status-change/`).query(query).set(auth).expect(200)).body as FeedPage;

  /** Every item after `after`, page by page, and the cursor to go on from. */
  async function readAll(clientId: string, after?: string, limit = 1000, filter: Record<string, string | number> = {}) {
    const items: FeedItem[] = [];
    let cursor = after;
    for (;;) {
      const next = await page(clientId, { ...filter, limit, ...(cursor ? { after: cursor } : {}) });
      items.push(...next.status_changes);
      cursor = next.next_cursor;
      if (!next.has_more) return { items, cursor };
    }
  }

  it('lists each real change once, oldest first, with the agent, its name then, the status, the source, the sequence and a cursor', async () => {
    await createClient(t, 'f1');
    const local = await createAgent(t, 'f1', 'local', 'op1@ringme.ru');
    const remote = await createAgent(t, 'f1', 'remote', '+74951234567');
    const before = Date.now();
    await setStatus(t, 'f1', 'local', local, 'available').expect(200);
    await setStatus(t, 'f1', 'local', local, 'available').expect(200); // not a change
    await t.http().put(`/client/f1/agent/local/${local}`).set(admin).send({ extension_name: 'op1-renamed@ringme.ru' }).expect(200);
    await setStatus(t, 'f1', 'remote', remote, 'available').expect(200);
    await t
      .http()
      .post('/pbx/agent-command')
      .set(pbx)
      .send({ client_id: 'f1', extension_name: 'op1-renamed@ringme.ru', command: 'logout' })
      .expect((response) => expect(response.status).toBeLessThan(300));

    const { status_changes: items, next_cursor, has_more } = await page('f1');
    expect(items).toEqual([
      {
        agent_id: local,
        agent_type: 'local',
        extension_name: 'op1@ringme.ru',
        agent_status: 'available',
        event_source: 'api',
        sequence: 1,
        changed_at: expect.any(String),
        cursor: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
      {
        agent_id: remote,
        agent_type: 'remote',
        agent_number: '+74951234567',
        agent_status: 'available',
        event_source: 'api',
        sequence: 1,
        changed_at: expect.any(String),
        cursor: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
      {
        agent_id: local,
        agent_type: 'local',
        extension_name: 'op1-renamed@ringme.ru',
        agent_status: 'logged_out',
        event_source: 'phone',
        sequence: 2,
        changed_at: expect.any(String),
        cursor: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
    ]);
    const cursors = items.map((item) => item.cursor);
    expect([...cursors].sort()).toEqual(cursors);
    expect(new Set(cursors).size).toBe(3);
    expect(next_cursor).toBe(cursors[2]);
    expect(has_more).toBe(false);
    for (const item of items) expect(Math.abs(Date.parse(item.changed_at) - before)).toBeLessThan(60_000);

    // Stable: the same cursors on every read; an empty page keeps the cursor.
    expect((await page('f1')).status_changes.map((item) => item.cursor)).toEqual(cursors);
    expect(await page('f1', { after: cursors[2] })).toEqual({ status_changes: [], next_cursor: cursors[2], has_more: false });
    expect((await page('f1', { after: cursors[0] })).status_changes.map((item) => item.cursor)).toEqual(cursors.slice(1));
  });

  it('pages by limit and filters by agent_type and agent_id', async () => {
    await createClient(t, 'f2');
    const a = await createAgent(t, 'f2', 'local', 'a@ringme.ru');
    const b = await createAgent(t, 'f2', 'local', 'b@ringme.ru');
    const r = await createAgent(t, 'f2', 'remote', '+100');
    for (const status of ['available', 'logged_out', 'available'] as const) {
      await setStatus(t, 'f2', 'local', a, status).expect(200);
      await setStatus(t, 'f2', 'local', b, status).expect(200);
      await setStatus(t, 'f2', 'remote', r, status).expect(200);
    }
    const first = await page('f2', { limit: 4 });
    expect(first.status_changes).toHaveLength(4);
    expect(first.has_more).toBe(true);
    expect(first.next_cursor).toBe(first.status_changes[3].cursor);
    const rest = await readAll('f2', first.next_cursor, 2);
    expect(rest.items).toHaveLength(5);
    const all = [...first.status_changes, ...rest.items];
    expect(all.map((item) => [item.agent_id, item.sequence])).toEqual([
      [a, 1],
      [b, 1],
      [r, 1],
      [a, 2],
      [b, 2],
      [r, 2],
      [a, 3],
      [b, 3],
      [r, 3],
    ]);

    const remote = await readAll('f2', undefined, 1000, { agent_type: 'remote' });
    expect(remote.items.map((item) => [item.agent_id, item.sequence])).toEqual([
      [r, 1],
      [r, 2],
      [r, 3],
    ]);
    const onlyB = await readAll('f2', all[3].cursor, 1000, { agent_id: b });
    expect(onlyB.items.map((item) => [item.agent_id, item.sequence, item.cursor])).toEqual([
      [b, 2, all[4].cursor],
      [b, 3, all[7].cursor],
    ]);
    expect((await page('f2', { agent_id: 999_999 })).status_changes).toEqual([]);
  });

  it('shows a client token its own feed only, and answers bad cursors and limits with 400', async () => {
    const alpha = await clientWithToken(t, 'f3-alpha');
    await createClient(t, 'f3-beta');
    const agent = await createAgent(t, 'f3-alpha', 'local', 'x@ringme.ru');
    await setStatus(t, 'f3-alpha', 'local', agent, 'available').expect(200);
    expect((await page('f3-alpha', {}, alpha.auth)).status_changes).toHaveLength(1);
    expect((await page('@me', {}, alpha.auth)).status_changes).toHaveLength(1);
    const other = await t.http().get('/client/f3-beta/status-change/').set(alpha.auth).expect(403);
    expect(other.body).toEqual({ message: 'This token may not use this endpoint.', status: 'access_denied' });
    await t.http().get('/client/f3-beta/status-change/').expect(401);
    expect((await t.http().get('/client/f3-none/status-change/').set(admin).expect(404)).body.status).toBe('client_not_found');
    for (const [query, field] of [
      [{ after: 'ffffffffffffffff' }, 'after'],
      [{ after: '1' }, 'after'],
      [{ limit: 1001 }, 'limit'],
      [{ limit: 0 }, 'limit'],
      [{ agent_type: 'other' }, 'agent_type'],
      [{ agent_id: 'x' }, 'agent_id'],
    ] as const) {
      const response = await t.http().get('/client/f3-alpha/status-change/').query(query).set(admin).expect(400);
      expect(response.body).toEqual({ message: expect.stringContaining(field), status: 'validation_failed' });
    }
  });

  // A change is held inside its transaction (its deliveries' insert waits for a lock this test holds) after its status
  // change was written; then another agent of the same client changes. Numbered in insert order, the second would
  // commit first and a reader's cursor would pass the first for good. Numbered in commit order, the second waits for
  // the first, and a reader sees both, in order.
  it('never lets a later change pass one still being committed: the reader that read in between still gets both', async () => {
    await createClient(t, 'f5');
    const held = await createAgent(t, 'f5', 'local', 'held@ringme.ru');
    const quick = await createAgent(t, 'f5', 'local', 'quick@ringme.ru');
    await createEvent(t, 'f5', 'local', held, login('https://hooks.example.com/held'));
    const start = (await page('f5')).next_cursor;

    const locker = await mysql.createConnection({ uri: t.config.databaseUrl.replace(/^mariadb:/, 'mysql:') });
    try {
      await locker.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await locker.query('START TRANSACTION');
      // Next-key locks over every delivery id to come: an insert into deliveries waits until this transaction ends.
      await locker.query("SELECT id FROM deliveries WHERE id >= 'msg_' FOR UPDATE");
      const heldChange = setStatus(t, 'f5', 'local', held, 'available').then((response) => response.status);
      // Where each change's statement is: the first waits in its deliveries' insert.
      const running = async (statement: string) =>
        Number(
          (
            await t.sql<{ n: number }>(
              'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() AND info LIKE ?',
              [`${statement}%`],
            )
          )[0].n,
        );
      await eventually(async () => (await running('INSERT INTO deliveries')) === 1);
      const quickChange = setStatus(t, 'f5', 'local', quick, 'available').then((response) => response.status);
      // The second change has reached the database: it committed, or it waits to lock the client's feed counter.
      await eventually(async () => {
        const [{ committed }] = await t.sql<{ committed: number }>('SELECT COUNT(*) AS committed FROM status_changes WHERE agent_id = ?', [
          quick,
        ]);
        return Number(committed) === 1 || (await running('% status_change_feed')) === 1;
      });
      const between = await page('f5', { after: start });
      expect(between.status_changes).toEqual([]);
      await locker.query('ROLLBACK');
      expect(await Promise.all([heldChange, quickChange])).toEqual([200, 200]);
      const after = await readAll('f5', between.next_cursor);
      expect(after.items.map((item) => [item.agent_id, item.sequence])).toEqual([
        [held, 1],
        [quick, 1],
      ]);
    } finally {
      await locker.end();
    }
  });

  // The invariant: a reader that pages on from its last cursor while changes are being committed concurrently sees
  // every change of its client exactly once, in each agent's order, with strictly increasing cursors. Concurrent
  // requests commit in several transactions at once, so commit order differs from the order rows were inserted in.
  it(`gives a reader paging during concurrent changes every change exactly once, in ${ROUNDS} rounds`, async () => {
    const AGENTS = 24;
    await createClient(t, 'f4');
    await t.http().put('/client/f4/limit/').set(admin).send({ agent_event_limit: 1000 }).expect(200);
    await createClient(t, 'f4-other');
    const agents = await Promise.all(Array.from({ length: AGENTS }, (_, n) => createAgent(t, 'f4', 'local', `load${n}@ringme.ru`)));
    // Subscriptions make each change's transaction write deliveries before it commits.
    for (const agent of agents) {
      for (let n = 0; n < SUBSCRIPTIONS; n++) {
        await createEvent(t, 'f4', 'local', agent, (n % 2 === 0 ? login : logout)(`https://hooks${n}.example.com/agent`));
      }
    }
    const others = await Promise.all(Array.from({ length: 4 }, (_, n) => createAgent(t, 'f4-other', 'local', `other${n}@ringme.ru`)));
    const status = new Map<number, 'available' | 'logged_out'>();
    const seen: FeedItem[] = [];
    let cursor: string | undefined;

    for (let round = 0; round < ROUNDS; round++) {
      let writing = true;
      // Each agent changes 8 times in a row, all agents at once: the API's batches overlap, so several transactions
      // are in flight at any moment, each writing its changes' deliveries before it commits.
      const writers = Promise.all([
        ...agents.map(async (agent) => {
          for (let n = 0; n < 8; n++) {
            const next = status.get(agent) === 'available' ? 'logged_out' : 'available';
            status.set(agent, next);
            await setStatus(t, 'f4', 'local', agent, next).expect(200);
          }
        }),
        ...others.map(async (agent) => {
          for (let n = 0; n < 8; n++) await setStatus(t, 'f4-other', 'local', agent, n % 2 === 0 ? 'available' : 'logged_out').expect(200);
        }),
      ]).finally(() => (writing = false));
      // Small pages, read as fast as they come, while the writers commit.
      while (writing) {
        const next = await page('f4', { limit: 7, ...(cursor ? { after: cursor } : {}) });
        seen.push(...next.status_changes);
        cursor = next.next_cursor;
      }
      await writers;
      const rest = await readAll('f4', cursor, 7);
      seen.push(...rest.items);
      cursor = rest.cursor;
    }

    const committed = await t.sql<{ agent_id: number; sequence: number }>(
      "SELECT agent_id, sequence FROM status_changes WHERE client_id = 'f4' ORDER BY agent_id, sequence",
    );
    expect(committed).toHaveLength(AGENTS * 8 * ROUNDS);
    const key = (item: { agent_id: number; sequence: number }) => `${item.agent_id}:${item.sequence}`;
    const seenKeys = seen.map(key);
    expect(new Set(seenKeys).size).toBe(seenKeys.length); // none twice
    expect([...seenKeys].sort()).toEqual(committed.map(key).sort()); // none missed, none of another client
    const cursors = seen.map((item) => item.cursor);
    expect(cursors.every((c, i) => i === 0 || c > cursors[i - 1])).toBe(true);
    for (const agent of agents) {
      const sequences = seen.filter((item) => item.agent_id === agent).map((item) => item.sequence);
      expect(sequences).toEqual(Array.from({ length: 8 * ROUNDS }, (_, i) => i + 1));
    }
  }, 240_000);
});
