import { deliveryFacts, loggedPayload } from './support/delivery-fixtures.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

describe("the spec's worked example", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('spec_example');
  });
  afterAll(() => t.close());

  it('adds a GET agent-login event to local agent on 000*094@ringme.ru and answers with exactly the four fields', async () => {
    await t.http().post('/client/').set(admin).send({ id: '12', name: 'Ringme' }).expect(201, { id: '12', name: 'Ringme' });
    const agent = await t.http().post('/client/12/agent/local/').set(admin).send({ extension_name: '000*094@ringme.ru' }).expect(201);
    expect(agent.body).toEqual({ id: expect.any(Number), extension_name: '000*094@ringme.ru', status: 'logged_out' });

    const created = await t
      .http()
      .post(`/client/12/agent/local/${agent.body.id}/event/`)
      .set(admin)
      .send({ event_type: 'agent-login', method: 'GET', url: 'https://hooks.example.com/fordel/show.php' })
      .expect(201);
    expect(created.body).toEqual({
      url: 'https://hooks.example.com/fordel/show.php',
      id: expect.any(Number),
      method: 'GET',
      event_type: 'agent-login',
    });
    expect(Object.keys(created.body).sort()).toEqual(['event_type', 'id', 'method', 'url']);
  });

  it('records the facts of the spec example with the delivery row when the agent logs in, and sends the exact payload', async () => {
    const [agent] = await t.sql<{ id: number }>('SELECT id FROM agents WHERE extension_name = ?', ['000*094@ringme.ru']);
    await t.http().put(`/client/12/agent/local/${agent.id}`).set(admin).send({ status: 'available' }).expect(200, {
      id: agent.id,
      extension_name: '000*094@ringme.ru',
      status: 'available',
    });
    const deliveries = await t.sql<{ id: string; method: string; url: string; state: string }>('SELECT * FROM deliveries');
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ method: 'GET', url: 'https://hooks.example.com/fordel/show.php', state: 'pending' });
    // The row holds facts: its status change, with the agent's name at that moment.
    expect(await deliveryFacts(t, 'd.id = ?', [deliveries[0].id])).toEqual([
      {
        id: deliveries[0].id,
        client_id: '12',
        url: 'https://hooks.example.com/fordel/show.php',
        method: 'GET',
        agent_status: 'available',
        agent_type: 'local',
        event_source: 'api',
        agent_id: agent.id,
        agent_name: '000*094@ringme.ru',
      },
    ]);
    // The payload built from them when it is sent, in the spec's order.
    const { payload } = await loggedPayload(t, '12', deliveries[0].id);
    expect(JSON.stringify(payload)).toBe(
      JSON.stringify({
        agent_status: 'available',
        agent_type: 'local',
        event_source: 'api',
        agent_id: String(agent.id),
        extension_name: '000*094@ringme.ru',
      }),
    );
  });
});
