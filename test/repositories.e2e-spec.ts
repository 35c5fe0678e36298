import { DataSource, type EntityManager } from 'typeorm';
import { AgentEventsRepository } from '../src/agent-events/agent-events.repository.js';
import { AGENT_KINDS } from '../src/agents/agent-kind.js';
import { AgentsRepository } from '../src/agents/agents.repository.js';
import { ApplicationsRepository } from '../src/applications/applications.repository.js';
import { ClientsRepository } from '../src/clients/clients.repository.js';
import { isDuplicateKey } from '../src/database/duplicate-key.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * The repositories against the real MariaDB: what each statement leaves in the tables. Rows are made with plain
 * SQL, so each repository is checked on its own.
 */
describe('repositories', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let clients: ClientsRepository;
  let applications: ApplicationsRepository;
  let agents: AgentsRepository;
  let agentEvents: AgentEventsRepository;

  beforeAll(async () => {
    t = await createTestApp('repositories');
    dataSource = t.app.get(DataSource);
    clients = t.app.get(ClientsRepository);
    applications = t.app.get(ApplicationsRepository);
    agents = t.app.get(AgentsRepository);
    agentEvents = t.app.get(AgentEventsRepository);
  });
  afterAll(() => t.close());

  const inTransaction = <T>(work: (manager: EntityManager) => Promise<T>) => dataSource.transaction(work);

  async function seedClient(id: string, limit = 20, count = 0): Promise<void> {
    await t.sql("INSERT INTO clients (id, name, agent_event_limit, agent_event_count, signing_secret) VALUES (?, ?, ?, ?, 'whsec_seed')", [
      id,
      `Client ${id}`,
      limit,
      count,
    ]);
  }

  async function seedAgent(clientId: string, type: 'local' | 'remote', name: string): Promise<number> {
    const column = AGENT_KINDS[type].nameField;
    const result = (await t.sql(`INSERT INTO agents (client_id, agent_type, ${column}) VALUES (?, ?, ?)`, [
      clientId,
      type,
      name,
    ])) as unknown as { insertId: number };
    return result.insertId;
  }

  async function seedEvent(clientId: string, agentId: number, url = 'https://hooks.example.com/in'): Promise<number> {
    const result = (await t.sql(
      "INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES (?, ?, 'agent-login', 'GET', ?)",
      [clientId, agentId, url],
    )) as unknown as { insertId: number };
    return result.insertId;
  }

  async function clientRow(id: string) {
    const [row] = await t.sql('SELECT * FROM clients WHERE id = ?', [id]);
    return row;
  }

  async function count(clientId: string): Promise<number> {
    const [row] = await t.sql<{ n: number }>('SELECT agent_event_count AS n FROM clients WHERE id = ?', [clientId]);
    return row.n;
  }

  /** Whether another connection finds the row locked (NOWAIT fails at once instead of waiting). */
  async function lockedElsewhere(table: 'clients' | 'agents' | 'agent_events', id: string | number): Promise<boolean> {
    try {
      await t.sql(`SELECT id FROM ${table} WHERE id = ? FOR UPDATE NOWAIT`, [id]);
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === 'ER_LOCK_WAIT_TIMEOUT') return true;
      throw error;
    }
  }

  describe('ClientsRepository', () => {
    const newClient = (id: string) => ({
      id,
      name: `Client ${id}`,
      agentEventLimit: 7,
      agentEventCount: 0,
      signingSecret: 'whsec_new',
      previousSigningSecret: null,
      secretRotatedAt: null,
    });

    it('inserts a client, and refuses its id a second time with a duplicate-key error, keeping the first row', async () => {
      await clients.insert(newClient('c-insert'));
      const first = await clientRow('c-insert');
      expect(first).toMatchObject({ id: 'c-insert', name: 'Client c-insert', agent_event_limit: 7, agent_event_count: 0 });
      expect(first).toMatchObject({ signing_secret: 'whsec_new', rate_limit_per_hour: null, previous_signing_secret: null });

      const error = await clients.insert({ ...newClient('c-insert'), name: 'Second' }).catch((caught: unknown) => caught);
      expect(isDuplicateKey(error)).toBe(true);
      expect(await clientRow('c-insert')).toEqual(first);
    });

    it('finds a client or null', async () => {
      await seedClient('c-find');
      expect(await clients.find('c-find')).toMatchObject({ id: 'c-find', agentEventLimit: 20, agentEventCount: 0 });
      expect(await clients.find('c-none')).toBeNull();
    });

    it('holds the row of a client found with `lock` and of `lock` until the transaction ends, and no other', async () => {
      await seedClient('c-lock');
      await seedClient('c-lock-other');
      await inTransaction(async (manager) => {
        await clients.find('c-lock', manager);
        expect(await lockedElsewhere('clients', 'c-lock')).toBe(false);
        await clients.find('c-lock', manager, true);
        expect(await lockedElsewhere('clients', 'c-lock')).toBe(true);
        expect(await lockedElsewhere('clients', 'c-lock-other')).toBe(false);
      });
      expect(await lockedElsewhere('clients', 'c-lock')).toBe(false);
      await inTransaction(async (manager) => {
        await clients.lock(manager, 'c-lock-other');
        expect(await lockedElsewhere('clients', 'c-lock-other')).toBe(true);
        expect(await lockedElsewhere('clients', 'c-lock')).toBe(false);
      });
      expect(await lockedElsewhere('clients', 'c-lock-other')).toBe(false);
    });

    it('counts an agent event up to the limit, then refuses and changes nothing', async () => {
      await seedClient('c-count', 2);
      await seedClient('c-count-other', 2);
      expect(await inTransaction((manager) => clients.countAgentEvent(manager, 'c-count'))).toBe(true);
      expect(await inTransaction((manager) => clients.countAgentEvent(manager, 'c-count'))).toBe(true);
      expect(await count('c-count')).toBe(2);
      const full = await clientRow('c-count');
      expect(await inTransaction((manager) => clients.countAgentEvent(manager, 'c-count'))).toBe(false);
      expect(await clientRow('c-count')).toEqual(full);
      expect(await count('c-count-other')).toBe(0);
    });

    it('refuses to count past a limit lowered below the count, and for an unknown client', async () => {
      await seedClient('c-over', 1, 3);
      expect(await inTransaction((manager) => clients.countAgentEvent(manager, 'c-over'))).toBe(false);
      expect(await count('c-over')).toBe(3);
      expect(await inTransaction((manager) => clients.countAgentEvent(manager, 'c-unknown'))).toBe(false);
      expect(await t.sql('SELECT id FROM clients WHERE id = ?', ['c-unknown'])).toEqual([]);
    });

    it('lets concurrent transactions count no more agent events than the limit', async () => {
      await seedClient('c-race', 3);
      const results = await Promise.all(
        Array.from({ length: 12 }, () => inTransaction((manager) => clients.countAgentEvent(manager, 'c-race'))),
      );
      expect(results.filter(Boolean)).toHaveLength(3);
      expect(await count('c-race')).toBe(3);
    });

    it('adds and takes agent events from the count of that client only, and only when committed', async () => {
      await seedClient('c-add', 20, 4);
      await seedClient('c-add-other', 20, 4);
      await inTransaction((manager) => clients.addAgentEvents(manager, 'c-add', 3));
      expect(await count('c-add')).toBe(7);
      await inTransaction((manager) => clients.addAgentEvents(manager, 'c-add', -5));
      expect(await count('c-add')).toBe(2);
      await expect(
        inTransaction(async (manager) => {
          await clients.addAgentEvents(manager, 'c-add', 10);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await count('c-add')).toBe(2);
      expect(await count('c-add-other')).toBe(4);
    });

    it('sets the limit, and the requests per hour only when given (null: back to the default)', async () => {
      await seedClient('c-limits', 20, 3);
      expect(await inTransaction((manager) => clients.setLimits(manager, 'c-limits', 5, 8))).toBe(true);
      expect(await clientRow('c-limits')).toMatchObject({ agent_event_limit: 5, rate_limit_per_hour: 8, agent_event_count: 3 });
      expect(await clients.rateLimitPerHour('c-limits')).toBe(8);

      expect(await inTransaction((manager) => clients.setLimits(manager, 'c-limits', 6))).toBe(true);
      expect(await clientRow('c-limits')).toMatchObject({ agent_event_limit: 6, rate_limit_per_hour: 8 });

      expect(await inTransaction((manager) => clients.setLimits(manager, 'c-limits', 6, null))).toBe(true);
      expect(await clientRow('c-limits')).toMatchObject({ agent_event_limit: 6, rate_limit_per_hour: null });
      expect(await clients.rateLimitPerHour('c-limits')).toBeNull();
    });

    it('answers true for values the client already has (the service answers 404 on false) and false for no client', async () => {
      await seedClient('c-same', 9);
      const before = await clientRow('c-same');
      expect(await inTransaction((manager) => clients.setLimits(manager, 'c-same', 9))).toBe(true);
      expect(await clientRow('c-same')).toEqual(before);
      expect(await inTransaction((manager) => clients.setLimits(manager, 'c-nobody', 9, 10))).toBe(false);
      expect(await clients.rateLimitPerHour('c-nobody')).toBeNull();
    });

    it('saves the changed columns of a client it found', async () => {
      await seedClient('c-save');
      const rotatedAt = new Date('2030-01-02T03:04:05.678Z');
      await inTransaction(async (manager) => {
        const client = (await clients.find('c-save', manager, true))!;
        client.previousSigningSecret = client.signingSecret;
        client.signingSecret = 'whsec_rotated';
        client.secretRotatedAt = rotatedAt;
        await clients.save(manager, client);
      });
      expect(await clientRow('c-save')).toMatchObject({
        name: 'Client c-save',
        agent_event_limit: 20,
        signing_secret: 'whsec_rotated',
        previous_signing_secret: 'whsec_seed',
        secret_rotated_at: rotatedAt,
      });
    });
  });

  describe('ApplicationsRepository', () => {
    const id = (n: number) => n.toString(16).padStart(24, '0');
    const application = (n: number, clientId: string, createdAt: Date) => ({
      id: id(n),
      clientId,
      name: `App ${n}`,
      secretHash: `$argon2id$hash-${n}`,
      createdAt,
    });

    beforeAll(async () => {
      await seedClient('app-a');
      await seedClient('app-b');
    });

    it('inserts applications and lists a client’s own, oldest first, then by id', async () => {
      const early = new Date('2030-01-01T00:00:00.000Z');
      const late = new Date('2030-01-01T00:00:01.000Z');
      await applications.insert(application(3, 'app-a', late));
      await applications.insert(application(2, 'app-a', late));
      await applications.insert(application(9, 'app-a', early));
      await applications.insert(application(1, 'app-b', early));
      expect(await t.sql('SELECT id, client_id, name, secret_hash FROM applications WHERE id = ?', [id(3)])).toEqual([
        { id: id(3), client_id: 'app-a', name: 'App 3', secret_hash: '$argon2id$hash-3' },
      ]);
      const listed = await applications.listForClient('app-a');
      expect(listed.map((row) => [row.id, row.createdAt.toISOString()])).toEqual([
        [id(9), early.toISOString()],
        [id(2), late.toISOString()],
        [id(3), late.toISOString()],
      ]);
      expect(await applications.listForClient('app-none')).toEqual([]);
    });

    it('finds what token checks need of an application, and null for none', async () => {
      await applications.insert(application(20, 'app-a', new Date()));
      expect(await applications.findCredentials(id(20))).toEqual({ id: id(20), clientId: 'app-a', secretHash: '$argon2id$hash-20' });
      expect(await applications.findCredentials(id(21))).toBeNull();
    });

    it('deletes an application only through its own client', async () => {
      await applications.insert(application(30, 'app-a', new Date()));
      expect(await applications.delete('app-b', id(30))).toBe(0);
      expect(await t.sql('SELECT id FROM applications WHERE id = ?', [id(30)])).toEqual([{ id: id(30) }]);
      expect(await applications.delete('app-a', id(30))).toBe(1);
      expect(await t.sql('SELECT id FROM applications WHERE id = ?', [id(30)])).toEqual([]);
      expect(await applications.delete('app-a', id(30))).toBe(0);
    });
  });

  describe('AgentsRepository', () => {
    beforeAll(async () => {
      await seedClient('ag-a');
      await seedClient('ag-b');
    });

    it('inserts an agent made by `create`, sets its id, and refuses a name the client already has', async () => {
      const agent = agents.create({
        clientId: 'ag-a',
        agentType: 'local',
        extensionName: '100*094@ringme.ru',
        agentStatus: 'logged_out',
        statusSequence: 0,
      });
      await inTransaction((manager) => agents.insert(manager, agent));
      expect(agent.id).toEqual(expect.any(Number));
      expect(
        await t.sql('SELECT client_id, agent_type, extension_name, agent_number, agent_status FROM agents WHERE id = ?', [agent.id]),
      ).toEqual([
        { client_id: 'ag-a', agent_type: 'local', extension_name: '100*094@ringme.ru', agent_number: null, agent_status: 'logged_out' },
      ]);

      const again = agents.create({
        clientId: 'ag-a',
        agentType: 'local',
        extensionName: '100*094@ringme.ru',
        agentStatus: 'logged_out',
        statusSequence: 0,
      });
      const error = await inTransaction((manager) => agents.insert(manager, again)).catch((caught: unknown) => caught);
      expect(isDuplicateKey(error)).toBe(true);
      expect(await t.sql("SELECT id FROM agents WHERE client_id = 'ag-a' AND extension_name = '100*094@ringme.ru'")).toEqual([
        { id: agent.id },
      ]);
    });

    it('finds an agent only in its own client and type, and lists a client’s agents of one type by id', async () => {
      const remote = await seedAgent('ag-a', 'remote', '+74950000101');
      const local = await seedAgent('ag-a', 'local', '101*094@ringme.ru');
      await seedAgent('ag-b', 'local', '101*094@ringme.ru');
      expect(await agents.find('ag-a', 'local', local)).toEqual({
        id: local,
        clientId: 'ag-a',
        agentType: 'local',
        extensionName: '101*094@ringme.ru',
        agentNumber: null,
        agentStatus: 'logged_out',
        statusSequence: 0,
      });
      expect(await agents.find('ag-a', 'remote', local)).toBeUndefined();
      expect(await agents.find('ag-b', 'local', local)).toBeUndefined();
      expect((await agents.find('ag-a', 'remote', remote))?.agentNumber).toBe('+74950000101');

      const listed = await agents.listForClient('ag-a', 'local');
      expect(listed.map((agent) => agent.extensionName)).toEqual(['100*094@ringme.ru', '101*094@ringme.ru']);
      expect(listed.map((agent) => agent.id)).toEqual([...listed.map((agent) => agent.id)].sort((a, b) => a - b));
    });

    it('holds the agent’s row when found with `lock`, until the transaction ends', async () => {
      const agentId = await seedAgent('ag-a', 'local', '102*094@ringme.ru');
      await inTransaction(async (manager) => {
        await agents.find('ag-a', 'local', agentId, manager);
        expect(await lockedElsewhere('agents', agentId)).toBe(false);
        await agents.find('ag-a', 'local', agentId, manager, true);
        expect(await lockedElsewhere('agents', agentId)).toBe(true);
      });
      expect(await lockedElsewhere('agents', agentId)).toBe(false);
    });

    it('finds an agent’s id by its extension or number, in its own client and kind only', async () => {
      const local = await seedAgent('ag-a', 'local', '103*094@ringme.ru');
      const remote = await seedAgent('ag-a', 'remote', '+74950000103');
      expect(await agents.findByName('ag-a', AGENT_KINDS.local, '103*094@ringme.ru')).toEqual({ id: local });
      expect(await agents.findByName('ag-a', AGENT_KINDS.remote, '+74950000103')).toEqual({ id: remote });
      expect(await agents.findByName('ag-a', AGENT_KINDS.remote, '103*094@ringme.ru')).toBeUndefined();
      expect(await agents.findByName('ag-b', AGENT_KINDS.local, '103*094@ringme.ru')).toBeUndefined();
    });

    it('deletes an agent with its own agent events, answering how many went, and leaves the count to the caller', async () => {
      await t.sql("UPDATE clients SET agent_event_count = 3 WHERE id = 'ag-b'");
      const doomed = await seedAgent('ag-b', 'remote', '+74950000104');
      const kept = await seedAgent('ag-b', 'remote', '+74950000105');
      await seedEvent('ag-b', doomed);
      await seedEvent('ag-b', doomed);
      const keptEvent = await seedEvent('ag-b', kept);

      expect(await inTransaction((manager) => agents.delete(manager, doomed))).toBe(2);
      expect(await t.sql('SELECT id FROM agents WHERE id IN (?, ?)', [doomed, kept])).toEqual([{ id: kept }]);
      expect(await t.sql("SELECT id, agent_id FROM agent_events WHERE client_id = 'ag-b'")).toEqual([{ id: keptEvent, agent_id: kept }]);
      expect(await count('ag-b')).toBe(3);

      const bare = await seedAgent('ag-b', 'remote', '+74950000106');
      expect(await inTransaction((manager) => agents.delete(manager, bare))).toBe(0);
      expect(await t.sql('SELECT id FROM agents WHERE id = ?', [bare])).toEqual([]);
    });
  });

  describe('AgentEventsRepository', () => {
    let agentId: number;
    let otherAgentId: number;
    beforeAll(async () => {
      await seedClient('ev-a');
      await seedClient('ev-b');
      agentId = await seedAgent('ev-a', 'local', '200*094@ringme.ru');
      otherAgentId = await seedAgent('ev-a', 'local', '201*094@ringme.ru');
    });

    it('inserts an agent event and sets its id, leaving the count to the caller', async () => {
      const event = await inTransaction((manager) =>
        agentEvents.insert(manager, {
          clientId: 'ev-a',
          agentId,
          url: 'https://hooks.example.com/a',
          eventType: 'agent-logout',
          method: 'POST',
        }),
      );
      expect(event.id).toEqual(expect.any(Number));
      expect(await t.sql('SELECT client_id, agent_id, url, event_type, method FROM agent_events WHERE id = ?', [event.id])).toEqual([
        { client_id: 'ev-a', agent_id: agentId, url: 'https://hooks.example.com/a', event_type: 'agent-logout', method: 'POST' },
      ]);
      expect(await count('ev-a')).toBe(0);
    });

    it('lists an agent’s events by id: [] for an agent without any, null for no such agent in the client and type', async () => {
      const listAgent = await seedAgent('ev-a', 'remote', '+74950000200');
      expect(await agentEvents.listForAgent('ev-a', 'remote', listAgent)).toEqual([]);
      const first = await seedEvent('ev-a', listAgent, 'https://hooks.example.com/1');
      const second = await seedEvent('ev-a', listAgent, 'https://hooks.example.com/2');
      await seedEvent('ev-a', otherAgentId, 'https://hooks.example.com/other');
      expect(await agentEvents.listForAgent('ev-a', 'remote', listAgent)).toEqual([
        { url: 'https://hooks.example.com/1', method: 'GET', event_type: 'agent-login', id: first },
        { url: 'https://hooks.example.com/2', method: 'GET', event_type: 'agent-login', id: second },
      ]);
      expect(await agentEvents.listForAgent('ev-a', 'local', listAgent)).toBeNull();
      expect(await agentEvents.listForAgent('ev-b', 'remote', listAgent)).toBeNull();
    });

    it('finds an agent event only through its own client and agent', async () => {
      const eventId = await seedEvent('ev-a', agentId);
      expect(await agentEvents.find('ev-a', agentId, eventId)).toMatchObject({ id: eventId, clientId: 'ev-a', agentId });
      expect(await agentEvents.find('ev-b', agentId, eventId)).toBeNull();
      expect(await agentEvents.find('ev-a', otherAgentId, eventId)).toBeNull();
    });

    it('reads an agent event with its row locked until the transaction ends, only through its own agent', async () => {
      const eventId = await seedEvent('ev-a', agentId, 'https://hooks.example.com/locked');
      await inTransaction(async (manager) => {
        expect(await lockedElsewhere('agent_events', eventId)).toBe(false);
        expect(await agentEvents.findForUpdate(manager, otherAgentId, eventId)).toBeUndefined();
        expect(await agentEvents.findForUpdate(manager, agentId, eventId)).toEqual({
          url: 'https://hooks.example.com/locked',
          method: 'GET',
          event_type: 'agent-login',
          id: eventId,
        });
        expect(await lockedElsewhere('agent_events', eventId)).toBe(true);
      });
      expect(await lockedElsewhere('agent_events', eventId)).toBe(false);
    });

    it('updates only the columns given, and no column outside url, event_type and method', async () => {
      const eventId = await seedEvent('ev-a', agentId, 'https://hooks.example.com/before');
      const row = async () => (await t.sql('SELECT * FROM agent_events WHERE id = ?', [eventId]))[0];
      const before = await row();

      await inTransaction((manager) => agentEvents.update(manager, eventId, { method: 'POST' }));
      expect(await row()).toEqual({ ...before, method: 'POST' });

      await inTransaction((manager) =>
        agentEvents.update(manager, eventId, { url: 'https://hooks.example.com/after', event_type: 'agent-logout' }),
      );
      expect(await row()).toEqual({ ...before, method: 'POST', url: 'https://hooks.example.com/after', event_type: 'agent-logout' });

      await inTransaction((manager) => agentEvents.update(manager, eventId, {}));
      await inTransaction((manager) => agentEvents.update(manager, eventId, { client_id: 'ev-b', agent_id: otherAgentId } as never));
      expect(await row()).toEqual({ ...before, method: 'POST', url: 'https://hooks.example.com/after', event_type: 'agent-logout' });
    });

    it('deletes an agent event only through its own agent, answering how many rows went', async () => {
      const eventId = await seedEvent('ev-a', agentId);
      expect(await inTransaction((manager) => agentEvents.delete(manager, otherAgentId, eventId))).toBe(0);
      expect(await t.sql('SELECT id FROM agent_events WHERE id = ?', [eventId])).toEqual([{ id: eventId }]);
      expect(await inTransaction((manager) => agentEvents.delete(manager, agentId, eventId))).toBe(1);
      expect(await t.sql('SELECT id FROM agent_events WHERE id = ?', [eventId])).toEqual([]);
    });
  });
});
