import { agentWithEvents } from './support/delivery-fixtures.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';

/** The delivery log as a user reads it; no worker runs here, so every delivery stays pending. */
describe('the delivery log', () => {
  let t: TestApp;
  let agent: Awaited<ReturnType<typeof agentWithEvents>>;

  beforeAll(async () => {
    t = await createTestApp('delivery_log');
    agent = await agentWithEvents(t, { extension_name: 'log@ringme.ru' }, [
      { url: 'https://receiver.example.com/in', event_type: 'agent-login', method: 'GET' },
      { url: 'https://receiver.example.com/out', event_type: 'agent-logout', method: 'POST' },
    ]);
    for (let i = 0; i < 3; i++) {
      await agent.setStatus('available');
      await agent.setStatus('logged_out');
    }
  });
  afterAll(() => t.close());

  it("lists an agent event's deliveries newest first, with the status change each carries", async () => {
    const response = await t.http().get(`${agent.base}/event/${agent.eventIds[0]}/delivery/`).set(admin).expect(200);
    expect(response.body).toMatchObject({ page: 1, per_page: 20, has_more: false });
    expect(response.body.deliveries).toHaveLength(3);
    expect(response.body.deliveries.map((delivery: { status_change: { sequence: number } }) => delivery.status_change.sequence)).toEqual([
      5, 3, 1,
    ]);
    expect(response.body.deliveries[0]).toEqual({
      id: expect.stringMatching(/^msg_/),
      agent_id: agent.agentId,
      agent_event_id: agent.eventIds[0],
      url: 'https://receiver.example.com/in',
      method: 'GET',
      kind: 'change',
      status_change: { agent_status: 'available', event_source: 'api', sequence: 5, changed_at: expect.any(String) },
      state: 'pending',
      attempt_count: 0,
      last_status_code: null,
      last_error: null,
      held_reason: null,
      next_attempt_at: expect.any(String),
      created_at: expect.any(String),
      delivered_at: null,
    });
  });

  it('pages with page and per_page', async () => {
    const all = await t.http().get(`/client/${agent.clientId}/delivery/?per_page=100`).set(admin).expect(200);
    expect(all.body).toMatchObject({ has_more: false });
    expect(all.body.deliveries).toHaveLength(6);
    const first = await t.http().get(`/client/${agent.clientId}/delivery/?page=1&per_page=4`).set(admin).expect(200);
    expect(first.body).toMatchObject({ page: 1, per_page: 4, has_more: true });
    const second = await t.http().get(`/client/${agent.clientId}/delivery/?page=2&per_page=4`).set(admin).expect(200);
    expect(second.body).toMatchObject({ page: 2, per_page: 4, has_more: false });
    expect(second.body.deliveries.map((delivery: { id: string }) => delivery.id)).toEqual(
      all.body.deliveries.slice(4).map((delivery: { id: string }) => delivery.id),
    );
  });

  it("filters the client's deliveries by state", async () => {
    const pending = await t.http().get(`/client/${agent.clientId}/delivery/?state=pending`).set(admin).expect(200);
    expect(pending.body.deliveries).toHaveLength(6);
    const dead = await t.http().get(`/client/${agent.clientId}/delivery/?state=dead`).set(admin).expect(200);
    expect(dead.body).toMatchObject({ deliveries: [], has_more: false });
  });

  it('shows one delivery with the exact payload it sends and its (so far empty) attempts', async () => {
    const page = await t.http().get(`${agent.base}/event/${agent.eventIds[1]}/delivery/?per_page=1`).set(admin).expect(200);
    const detail = await t.http().get(`/client/${agent.clientId}/delivery/${page.body.deliveries[0].id}`).set(admin).expect(200);
    expect(detail.body.payload).toEqual({
      agent_status: 'logged_out',
      agent_type: 'local',
      event_source: 'api',
      agent_id: String(agent.agentId),
      extension_name: 'log@ringme.ru',
    });
    expect(Object.keys(detail.body.payload)).toEqual(['agent_status', 'agent_type', 'event_source', 'agent_id', 'extension_name']);
    expect(detail.body.attempts).toEqual([]);
  });

  it.each([
    ['per_page=101', 'per_page'],
    ['per_page=0', 'per_page'],
    ['page=0', 'page'],
    ['page=abc', 'page'],
    ['state=lost', 'state'],
    ['color=red', 'color'],
  ])('refuses ?%s with 400 validation_failed naming the field', async (query, field) => {
    const response = await t.http().get(`/client/${agent.clientId}/delivery/?${query}`).set(admin).expect(400);
    expect(response.body).toEqual({ message: expect.stringContaining(field), status: 'validation_failed' });
  });

  it('answers 404 for an unknown delivery, client, or agent event, and 400 for an unknown agent type', async () => {
    const missing = await t.http().get(`/client/${agent.clientId}/delivery/msg_nothing`).set(admin).expect(404);
    expect(missing.body).toEqual({ message: expect.any(String), status: 'delivery_not_found' });
    await t.http().post(`/client/${agent.clientId}/delivery/msg_nothing/retry`).set(admin).expect(404);
    expect((await t.http().get('/client/nobody/delivery/').set(admin).expect(404)).body.status).toBe('client_not_found');
    expect((await t.http().get(`${agent.base}/event/99999/delivery/`).set(admin).expect(404)).body.status).toBe('event_not_found');
    const wrongType = `/client/${agent.clientId}/agent/remote/${agent.agentId}/event/${agent.eventIds[0]}/delivery/`;
    expect((await t.http().get(wrongType).set(admin).expect(404)).body.status).toBe('agent_not_found');
    const badType = `/client/${agent.clientId}/agent/robot/${agent.agentId}/event/${agent.eventIds[0]}/delivery/`;
    expect((await t.http().get(badType).set(admin).expect(400)).body.status).toBe('validation_failed');
  });

  it("does not show another client's delivery under this client", async () => {
    const other = await agentWithEvents(t, { extension_name: 'other@ringme.ru' }, []);
    const page = await t.http().get(`/client/${agent.clientId}/delivery/?per_page=1`).set(admin).expect(200);
    await t.http().get(`/client/${other.clientId}/delivery/${page.body.deliveries[0].id}`).set(admin).expect(404);
  });

  it('is not open to the PBX token', async () => {
    const response = await t.http().get(`/client/${agent.clientId}/delivery/`).set(pbx).expect(403);
    expect(response.body.status).toBe('access_denied');
  });
});
