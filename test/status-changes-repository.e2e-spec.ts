import fc from 'fast-check';
import { isDuplicateKey } from '../src/database/duplicate-key.js';
import { newMessageIdBase } from '../src/common/message-id.js';
import { StatusChangesRepository, type ChangeToApply } from '../src/status/status-changes.repository.js';
import { eventTypeFor } from '../src/status/status-rules.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * The status-change table family's two ways of applying a change: `change_agent` (a change alone, the everyday case)
 * and `change_agents` (a batch, here of one). Two clients are set up alike, agent for agent and subscription for
 * subscription; every change is applied to one client through each procedure, and what each answers and leaves in
 * MariaDB (agents, status changes with their feed positions, deliveries) must be the same.
 */
describe('StatusChangesRepository: a change alone and a batch of one', () => {
  let t: TestApp;
  let repository: StatusChangesRepository;
  let run = 0;

  beforeAll(async () => {
    t = await createTestApp('status-changes-repository');
    repository = t.app.get(StatusChangesRepository);
  });
  afterAll(() => t.close());

  /** A client with a local and a remote agent, each with two agent-login and one agent-logout subscription. */
  async function seedClient(id: string): Promise<{ local: number; remote: number }> {
    await t.sql("INSERT INTO clients (id, name, agent_event_limit, signing_secret) VALUES (?, ?, 20, 'whsec_seed')", [id, id]);
    const agent = async (type: 'local' | 'remote', name: string) => {
      const column = type === 'local' ? 'extension_name' : 'agent_number';
      const { insertId } = (await t.sql(`INSERT INTO agents (client_id, agent_type, ${column}) VALUES (?, ?, ?)`, [
        id,
        type,
        name,
      ])) as unknown as {
        insertId: number;
      };
      for (const [eventType, url] of [
        ['agent-login', 'https://hooks.example.com/a'],
        ['agent-logout', 'https://hooks.example.com/b'],
        ['agent-login', 'https://hooks.example.com/c'],
      ])
        await t.sql("INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES (?, ?, ?, 'GET', ?)", [
          id,
          insertId,
          eventType,
          url,
        ]);
      return insertId;
    };
    return { local: await agent('local', '101'), remote: await agent('remote', '5550101') };
  }

  /** One step, said of "the local agent" or "the remote agent" of whichever client it is applied to. */
  interface Step {
    agent: 'local' | 'remote';
    /** The type asked for: the agent's own, or the other (not found). */
    askedType: 'own' | 'other';
    status?: 'available' | 'logged_out';
    name?: string;
    /** Found by name (a change from the phone): by its name now, by a name it does not have, or by its name in other case. */
    foundBy?: 'current' | 'stale' | 'case';
  }

  const step: fc.Arbitrary<Step> = fc.record(
    {
      agent: fc.constantFrom('local' as const, 'remote' as const),
      askedType: fc.constantFrom('own' as const, 'own' as const, 'own' as const, 'other' as const),
      status: fc.constantFrom('available' as const, 'logged_out' as const),
      name: fc.constantFrom('101', '102', '5550102', 'Desk7', 'desk7'),
      foundBy: fc.constantFrom('current' as const, 'stale' as const, 'case' as const),
    },
    { requiredKeys: ['agent', 'askedType'] },
  );

  /** The name as it is, or with its letters' case swapped (`Desk7` → `dESK7`; a name of digits has no other case). */
  function caseOf(how: 'current' | 'case', name: string): string {
    if (how === 'current') return name;
    const swapped = [...name].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    return swapped === name ? `${name}x` : swapped;
  }

  function toApply(client: string, agents: { local: number; remote: number }, names: Map<number, string>, s: Step): ChangeToApply {
    const type = s.askedType === 'own' ? s.agent : s.agent === 'local' ? 'remote' : 'local';
    const agent = agents[s.agent];
    return {
      client,
      type,
      agent,
      found_by: s.foundBy === undefined ? undefined : s.foundBy === 'stale' ? 'no-such-name' : caseOf(s.foundBy, names.get(agent)!),
      name: s.name,
      status: s.status,
      event_type: s.status === undefined ? undefined : eventTypeFor(s.status),
      source: s.foundBy === undefined ? 'api' : 'phone',
      id_base: newMessageIdBase(),
    };
  }

  /** What a client holds, with its own ids replaced by their roles (agent, subscription's place). */
  async function state(client: string, agents: { local: number; remote: number }) {
    const role = (id: number) => (Number(id) === agents.local ? 'local' : 'remote');
    const agentRows = await t.sql<Record<string, unknown>>(
      'SELECT id, agent_type, extension_name, agent_number, agent_status, status_sequence FROM agents WHERE client_id = ? ORDER BY id',
      [client],
    );
    const changes = await t.sql<Record<string, unknown>>(
      `SELECT agent_id, agent_type, old_status, agent_status, event_source, sequence, agent_name, feed_position
         FROM status_changes WHERE client_id = ? ORDER BY feed_position`,
      [client],
    );
    const deliveries = await t.sql<Record<string, unknown>>(
      `SELECT d.agent_id, RIGHT(d.id, 4) AS ordinal, s.sequence, d.url, d.method, d.state, d.kind, d.created_at = s.changed_at AS at_change,
              (SELECT COUNT(*) FROM agent_events e WHERE e.agent_id = d.agent_id AND e.id < d.agent_event_id) AS subscription
         FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id WHERE d.client_id = ? ORDER BY s.feed_position, d.id`,
      [client],
    );
    const feed = await t.sql<Record<string, unknown>>('SELECT last_position FROM status_change_feed WHERE client_id = ?', [client]);
    return {
      agents: agentRows.map(({ id, ...row }) => ({ role: role(id as number), ...row })),
      changes: changes.map(({ agent_id, ...row }) => ({ role: role(agent_id as number), ...row })),
      deliveries: deliveries.map(({ agent_id, ...row }) => ({ role: role(agent_id as number), ...row })),
      feed,
    };
  }

  type Answer = { agents: Record<string, unknown>[]; deliveries: Record<string, unknown>[] } | { error: string };

  /** A procedure's answer, with the client's own ids replaced by roles. */
  async function answer(call: () => Promise<unknown>, agents: { local: number; remote: number }): Promise<Answer> {
    try {
      const [agentRows, deliveryRows] = (await call()) as [Record<string, unknown>[], Record<string, unknown>[]];
      return {
        agents: agentRows.map(({ id, clientId: _client, ...row }) => ({
          ...row,
          position: Number(row.position),
          role: Number(id) === agents.local ? 'local' : 'remote',
          statusSequence: Number(row.statusSequence),
          changed: Number(row.changed),
        })),
        deliveries: deliveryRows.map(({ id, ...row }) => ({ ...row, position: Number(row.position), ordinal: String(id).slice(-4) })),
      };
    } catch (error) {
      if (isDuplicateKey(error)) return { error: 'duplicate key' };
      throw error;
    }
  }

  it('answers and writes the same for every sequence of changes, renames, lookups by name and misses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        run++;
        const alone = `alone-${run}`;
        const batch = `batch-${run}`;
        const agentsAlone = await seedClient(alone);
        const agentsBatch = await seedClient(batch);
        const names = { alone: new Map<number, string>(), batch: new Map<number, string>() };
        names.alone.set(agentsAlone.local, '101').set(agentsAlone.remote, '5550101');
        names.batch.set(agentsBatch.local, '101').set(agentsBatch.remote, '5550101');
        for (const s of steps) {
          const at = new Date();
          const one = toApply(alone, agentsAlone, names.alone, s);
          const other = toApply(batch, agentsBatch, names.batch, s);
          const [a, b] = [
            await answer(() => repository.applyAlone(one, at), agentsAlone),
            await answer(() => repository.applyBatch([other], at), agentsBatch),
          ];
          expect(a).toEqual(b);
          if ('agents' in a && a.agents.length > 0 && s.name !== undefined) {
            names.alone.set(agentsAlone[s.agent], s.name);
            names.batch.set(agentsBatch[s.agent], s.name);
          }
        }
        expect(await state(alone, agentsAlone)).toEqual(await state(batch, agentsBatch));
      }),
      {
        numRuns: 25,
        // Always among the runs: real changes both ways with their deliveries, a rename with a change, a lookup by a
        // stale name, a miss by type, and a change that changes nothing.
        examples: [
          [
            [
              { agent: 'local', askedType: 'own', status: 'available' },
              { agent: 'remote', askedType: 'own', status: 'available', name: '5550102' },
              { agent: 'local', askedType: 'own', status: 'logged_out', foundBy: 'current' },
              { agent: 'local', askedType: 'own', status: 'available', foundBy: 'stale' },
              { agent: 'local', askedType: 'own', name: 'Desk7' },
              { agent: 'local', askedType: 'own', status: 'available', foundBy: 'case' },
              { agent: 'remote', askedType: 'other', status: 'logged_out' },
              { agent: 'remote', askedType: 'own', status: 'available' },
            ],
          ],
        ],
      },
    );
    // The runs made real changes with deliveries: the comparison was not idle.
    const [{ changes, deliveries }] = await t.sql<{ changes: number; deliveries: number }>(
      "SELECT (SELECT COUNT(*) FROM status_changes WHERE client_id LIKE 'alone-%') AS changes, (SELECT COUNT(*) FROM deliveries WHERE client_id LIKE 'alone-%') AS deliveries",
    );
    expect(Number(changes)).toBeGreaterThanOrEqual(3);
    expect(Number(deliveries)).toBeGreaterThanOrEqual(5);
  });

  it("numbers a new client's first changes, made at once through change_agent, 1 and 2 (in 20 rounds)", async () => {
    for (let round = 0; round < 20; round++) {
      const client = `first-${round}`;
      const agents = await seedClient(client);
      const change = (agent: number): ChangeToApply => ({
        client,
        type: agent === agents.local ? 'local' : 'remote',
        agent,
        status: 'available',
        event_type: 'agent-login',
        source: 'api',
        id_base: newMessageIdBase(),
      });
      const at = new Date();
      await Promise.all([repository.applyAlone(change(agents.local), at), repository.applyAlone(change(agents.remote), at)]);
      const positions = await t.sql<{ feed_position: string }>(
        'SELECT feed_position FROM status_changes WHERE client_id = ? ORDER BY feed_position',
        [client],
      );
      expect(positions.map((row) => Number(row.feed_position))).toEqual([1, 2]);
      const [feed] = await t.sql<{ last_position: string }>('SELECT last_position FROM status_change_feed WHERE client_id = ?', [client]);
      expect(Number(feed.last_position)).toBe(2);
    }
  });

  it('refuses a rename to a name the client has, through either, and changes nothing', async () => {
    const agents = await seedClient('taken');
    const before = await state('taken', agents);
    const rename = (id_base: string): ChangeToApply => ({
      client: 'taken',
      type: 'local',
      agent: agents.local,
      name: '101',
      status: 'available',
      event_type: 'agent-login',
      source: 'api',
      id_base,
    });
    // A second local agent holds the name the first asks for.
    await t.sql("UPDATE agents SET extension_name = '102' WHERE id = ?", [agents.local]);
    await t.sql("INSERT INTO agents (client_id, agent_type, extension_name) VALUES ('taken', 'local', '101')");
    const after = await state('taken', agents);
    await expect(answer(() => repository.applyAlone(rename(newMessageIdBase()), new Date()), agents)).resolves.toEqual({
      error: 'duplicate key',
    });
    await expect(answer(() => repository.applyBatch([rename(newMessageIdBase())], new Date()), agents)).resolves.toEqual({
      error: 'duplicate key',
    });
    expect(await state('taken', agents)).toEqual(after);
    expect(after.changes).toEqual(before.changes);
  });
});
