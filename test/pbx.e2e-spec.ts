import { createAgent, createClient, createEvent, dbState, login, logout } from './support/api-fixtures.js';
import { deliveryFacts, loggedPayload } from './support/delivery-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

describe('phone commands from the PBX', () => {
  let t: TestApp;
  let local: number;
  let remote: number;
  beforeAll(async () => {
    t = await createTestApp('pbx');
    await createClient(t, '12');
    await createClient(t, '13');
    local = await createAgent(t, '12', 'local', '000*094@ringme.ru');
    remote = await createAgent(t, '12', 'remote', '+74951234567');
    await createEvent(t, '12', 'local', local, login('https://hooks.example.com/fordel/show.php'));
    await createEvent(t, '12', 'local', local, logout('https://hooks.example.com/out'));
    await createEvent(t, '12', 'remote', remote, login('https://hooks.example.com/remote'));
  });
  afterAll(() => t.close());

  const command = (body: object, auth = pbx) => t.http().post('/pbx/agent-command').set(auth).send(body);
  const lastChange = async (agentId: number) =>
    (
      await t.sql(
        'SELECT old_status, agent_status, event_source, sequence FROM status_changes WHERE agent_id = ? ORDER BY sequence DESC LIMIT 1',
        [agentId],
      )
    )[0];
  /** Each delivery of the agent, oldest first: its url and the facts its row holds (its status change). */
  const facts = async (agentId: number) =>
    (await deliveryFacts(t, 'd.agent_id = ?', [agentId])).map(({ url, agent_status, agent_type, event_source, agent_id, agent_name }) => [
      url,
      { agent_status, agent_type, event_source, agent_id, agent_name },
    ]);
  /** …and the payload each is sent with, built from those facts, as the delivery log shows it. */
  const payloads = async (agentId: number) =>
    Promise.all(
      (await deliveryFacts(t, 'd.agent_id = ?', [agentId])).map(async (d) => [d.url, (await loggedPayload(t, d.client_id, d.id)).payload]),
    );

  it('logs a local agent in by its extension name: 200 changed, a status change and deliveries with event_source phone', async () => {
    await command({ client_id: '12', extension_name: '000*094@ringme.ru', command: 'login' }).expect(200, {
      agent_id: local,
      agent_type: 'local',
      agent_status: 'available',
      changed: true,
    });
    expect(await lastChange(local)).toEqual({ old_status: 'logged_out', agent_status: 'available', event_source: 'phone', sequence: 1 });
    expect(await facts(local)).toEqual([
      [
        'https://hooks.example.com/fordel/show.php',
        { agent_status: 'available', agent_type: 'local', event_source: 'phone', agent_id: local, agent_name: '000*094@ringme.ru' },
      ],
    ]);
    expect(await payloads(local)).toEqual([
      [
        'https://hooks.example.com/fordel/show.php',
        {
          agent_status: 'available',
          agent_type: 'local',
          event_source: 'phone',
          agent_id: String(local),
          extension_name: '000*094@ringme.ru',
        },
      ],
    ]);
    await t
      .http()
      .get(`/client/12/agent/local/${local}`)
      .set(admin)
      .expect(200, { id: local, extension_name: '000*094@ringme.ru', status: 'available' });
  });

  it('answers changed:false and writes nothing when the agent logs in again from the phone', async () => {
    const before = await dbState(t);
    await command({ client_id: '12', extension_name: '000*094@ringme.ru', command: 'login' }).expect(200, {
      agent_id: local,
      agent_type: 'local',
      agent_status: 'available',
      changed: false,
    });
    expect(await dbState(t)).toEqual(before);
  });

  it('answers changed:false from the phone after the agent was logged in through the API', async () => {
    const agentId = await createAgent(t, '12', 'local', '555');
    await t.http().put(`/client/12/agent/local/${agentId}`).set(admin).send({ status: 'available' }).expect(200);
    const before = await dbState(t);
    await command({ client_id: '12', extension_name: '555', command: 'login' }).expect(200, {
      agent_id: agentId,
      agent_type: 'local',
      agent_status: 'available',
      changed: false,
    });
    expect(await dbState(t)).toEqual(before);
  });

  it('logs a local agent out from the phone and fires its agent-logout events', async () => {
    await command({ client_id: '12', extension_name: '000*094@ringme.ru', command: 'logout' }).expect(200, {
      agent_id: local,
      agent_type: 'local',
      agent_status: 'logged_out',
      changed: true,
    });
    expect(await lastChange(local)).toEqual({ old_status: 'available', agent_status: 'logged_out', event_source: 'phone', sequence: 2 });
    expect((await facts(local))[1]).toEqual([
      'https://hooks.example.com/out',
      { agent_status: 'logged_out', agent_type: 'local', event_source: 'phone', agent_id: local, agent_name: '000*094@ringme.ru' },
    ]);
    expect((await payloads(local))[1]).toEqual([
      'https://hooks.example.com/out',
      {
        agent_status: 'logged_out',
        agent_type: 'local',
        event_source: 'phone',
        agent_id: String(local),
        extension_name: '000*094@ringme.ru',
      },
    ]);
  });

  it('logs a remote agent in by its number, with agent_number in the payload', async () => {
    await command({ client_id: '12', agent_number: '+74951234567', command: 'login' }).expect(200, {
      agent_id: remote,
      agent_type: 'remote',
      agent_status: 'available',
      changed: true,
    });
    expect(await lastChange(remote)).toEqual({ old_status: 'logged_out', agent_status: 'available', event_source: 'phone', sequence: 1 });
    expect(await facts(remote)).toEqual([
      [
        'https://hooks.example.com/remote',
        { agent_status: 'available', agent_type: 'remote', event_source: 'phone', agent_id: remote, agent_name: '+74951234567' },
      ],
    ]);
    expect(await payloads(remote)).toEqual([
      [
        'https://hooks.example.com/remote',
        { agent_status: 'available', agent_type: 'remote', event_source: 'phone', agent_id: String(remote), agent_number: '+74951234567' },
      ],
    ]);
  });

  it('counts the sequence across API and phone changes of the same agent', async () => {
    await t.http().put(`/client/12/agent/remote/${remote}`).set(admin).send({ status: 'logged_out' }).expect(200);
    await command({ client_id: '12', agent_number: '+74951234567', command: 'login' }).expect(200);
    const rows = await t.sql('SELECT sequence, event_source, agent_status FROM status_changes WHERE agent_id = ? ORDER BY sequence', [
      remote,
    ]);
    expect(rows).toEqual([
      { sequence: 1, event_source: 'phone', agent_status: 'available' },
      { sequence: 2, event_source: 'api', agent_status: 'logged_out' },
      { sequence: 3, event_source: 'phone', agent_status: 'available' },
    ]);
  });

  it('accepts the admin token too', async () => {
    const agentId = await createAgent(t, '13', 'remote', '777');
    await command({ client_id: '13', agent_number: '777', command: 'login' }, admin).expect(200, {
      agent_id: agentId,
      agent_type: 'remote',
      agent_status: 'available',
      changed: true,
    });
  });

  it("finds the agent only in the named client: another client's agent of the same name is not touched", async () => {
    const other = await createAgent(t, '13', 'local', '000*094@ringme.ru');
    await command({ client_id: '13', extension_name: '000*094@ringme.ru', command: 'login' }).expect(200, {
      agent_id: other,
      agent_type: 'local',
      agent_status: 'available',
      changed: true,
    });
    expect(await t.sql('SELECT agent_status FROM agents WHERE id = ?', [local])).toEqual([{ agent_status: 'logged_out' }]);
  });

  it('answers 404 client_not_found for an unknown client', async () => {
    const before = await dbState(t);
    await command({ client_id: 'ghost', extension_name: '000*094@ringme.ru', command: 'login' }).expect(404, {
      message: 'Client ghost does not exist.',
      status: 'client_not_found',
    });
    expect(await dbState(t)).toEqual(before);
  });

  it.each([
    ['an unknown extension', { extension_name: '999@nowhere' }, 'There is no local agent with extension_name 999@nowhere in client 12.'],
    ['an unknown number', { agent_number: '+1000' }, 'There is no remote agent with agent_number +1000 in client 12.'],
    [
      "a remote agent's number given as an extension name",
      { extension_name: '+74951234567' },
      'There is no local agent with extension_name +74951234567 in client 12.',
    ],
  ])('answers 404 agent_not_found for %s', async (_label, identity, message) => {
    const before = await dbState(t);
    await command({ client_id: '12', ...identity, command: 'login' }).expect(404, { message, status: 'agent_not_found' });
    expect(await dbState(t)).toEqual(before);
  });

  it.each([
    [
      'both extension_name and agent_number',
      { client_id: '12', extension_name: '000*094@ringme.ru', agent_number: '+74951234567', command: 'login' },
      'extension_name',
    ],
    ['neither extension_name nor agent_number', { client_id: '12', command: 'login' }, 'extension_name'],
    ['a null extension_name', { client_id: '12', extension_name: null, command: 'login' }, 'extension_name'],
    ['a null agent_number', { client_id: '12', agent_number: null, command: 'login' }, 'agent_number'],
    [
      'a null extension_name beside an agent_number',
      { client_id: '12', extension_name: null, agent_number: '+74951234567', command: 'login' },
      'extension_name',
    ],
    ['a command of "LOGIN"', { client_id: '12', extension_name: '000*094@ringme.ru', command: 'LOGIN' }, 'command'],
    ['no command', { client_id: '12', extension_name: '000*094@ringme.ru' }, 'command'],
    ['no client_id', { extension_name: '000*094@ringme.ru', command: 'login' }, 'client_id'],
    ['a numeric client_id', { client_id: 12, extension_name: '000*094@ringme.ru', command: 'login' }, 'client_id'],
    ['an agent number with letters', { client_id: '12', agent_number: 'abc', command: 'login' }, 'agent_number'],
    [
      'an unknown field',
      { client_id: '12', extension_name: '000*094@ringme.ru', command: 'login', agent_status: 'available' },
      'agent_status',
    ],
    ['an agent_id instead of a name', { client_id: '12', agent_id: 1, command: 'login' }, 'agent_id'],
  ])('refuses a command with %s: 400 validation_failed naming the field', async (_label, body, field) => {
    const before = await dbState(t);
    const response = await command(body).expect(400);
    expect(response.body).toEqual({ message: expect.stringContaining(field), status: 'validation_failed' });
    expect(await dbState(t)).toEqual(before);
  });

  it('answers under /api/ver1.0 and with a trailing slash', async () => {
    const agentId = await createAgent(t, '13', 'local', 'slash');
    await t
      .http()
      .post('/api/ver1.0/pbx/agent-command/')
      .set(pbx)
      .send({ client_id: '13', extension_name: 'slash', command: 'login' })
      .expect(200, { agent_id: agentId, agent_type: 'local', agent_status: 'available', changed: true });
    await t
      .http()
      .post('/pbx/agent-command/')
      .set(pbx)
      .send({ client_id: '13', extension_name: 'slash', command: 'logout' })
      .expect(200, { agent_id: agentId, agent_type: 'local', agent_status: 'logged_out', changed: true });
  });
});
