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
      .send({ event_type: 'agent-login', method: 'GET', url: 'https://somehost.com/fordel/show.php' })
      .expect(201);
    expect(created.body).toEqual({
      url: 'https://somehost.com/fordel/show.php',
      id: expect.any(Number),
      method: 'GET',
      event_type: 'agent-login',
    });
    expect(Object.keys(created.body).sort()).toEqual(['event_type', 'id', 'method', 'url']);
  });

  it('freezes the payload of the spec example in the delivery row when the agent logs in', async () => {
    const [agent] = await t.sql<{ id: number }>('SELECT id FROM agents WHERE extension_name = ?', ['000*094@ringme.ru']);
    await t.http().put(`/client/12/agent/local/${agent.id}`).set(admin).send({ status: 'available' }).expect(200, {
      id: agent.id,
      extension_name: '000*094@ringme.ru',
      status: 'available',
    });
    const deliveries = await t.sql<{ payload: string; method: string; url: string; state: string }>('SELECT * FROM deliveries');
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ method: 'GET', url: 'https://somehost.com/fordel/show.php', state: 'pending' });
    expect(deliveries[0].payload).toBe(
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
