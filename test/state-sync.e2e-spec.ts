import { bearer, createApplication, fetchToken } from './support/client-fixtures.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver, type ReceivedRequest } from './support/receiver.js';
import { signingSecretOf, verifies } from './support/signature.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

/** POST …/event/{event_id}/sync: the agent's current state, sent to one agent event's URL as a delivery of its own. */
describe('state sync', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'state_sync',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms,200ms', RECONCILE_INTERVAL_MS: '300' },
      { withWorker: true },
    );
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  /** The delivery as the delivery log shows it, once it is no longer pending. */
  const settled = (clientId: string, deliveryId: string) =>
    eventually(async () => {
      const detail = await t.http().get(`/client/${clientId}/delivery/${deliveryId}`).set(admin).expect(200);
      return detail.body.state !== 'pending' && detail.body;
    });

  /** What the receiver got, in arrival order: each request's sequence and whether it was a sync. */
  const arrivals = (requests: ReceivedRequest[]) =>
    requests.map((request) => [request.headers['agent-event-sequence'], request.headers['agent-event-sync'] ?? 'change']);

  const rowCounts = async (clientId: string) => {
    const [{ changes }] = await t.sql<{ changes: number }>('SELECT COUNT(*) AS changes FROM status_changes WHERE client_id = ?', [
      clientId,
    ]);
    const [{ deliveries }] = await t.sql<{ deliveries: number }>('SELECT COUNT(*) AS deliveries FROM deliveries WHERE client_id = ?', [
      clientId,
    ]);
    return { changes: Number(changes), deliveries: Number(deliveries) };
  };

  it('sends an agent that never changed as logged_out with sequence 0, signed and marked as a sync, outside the feed', async () => {
    const agent = await agentWithEvents(t, { extension_name: '000*094@ringme.ru' }, [
      { url: receiver.url('/fordel/show.php?a=1'), event_type: 'agent-login', method: 'GET' },
    ]);
    const response = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/sync`).set(admin).expect(202);

    expect(response.body).toMatchObject({
      id: expect.stringMatching(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/),
      agent_id: agent.agentId,
      agent_event_id: agent.eventIds[0],
      url: receiver.url('/fordel/show.php?a=1'),
      method: 'GET',
      kind: 'sync',
      status_change: { agent_status: 'logged_out', event_source: 'api', sequence: 0 },
      payload: {
        agent_status: 'logged_out',
        agent_type: 'local',
        event_source: 'api',
        agent_id: String(agent.agentId),
        extension_name: '000*094@ringme.ru',
      },
    });
    const [request] = await receiver.waitFor(1);
    expect(request.url).toBe(
      `/fordel/show.php?a=1&agent_status=logged_out&agent_type=local&event_source=api&agent_id=${agent.agentId}` +
        '&extension_name=000*094%40ringme.ru',
    );
    expect(request.headers).toMatchObject({ 'webhook-id': response.body.id, 'agent-event-sync': 'true', 'agent-event-sequence': '0' });
    expect(request.headers['agent-event-test']).toBeUndefined();
    expect(verifies(await signingSecretOf(t, agent.clientId), request)).toBe(true);
    expect(await settled(agent.clientId, response.body.id)).toMatchObject({ kind: 'sync', state: 'succeeded', attempt_count: 1 });

    // The state it reflects is written as status change 0, which is not in the client's feed; the agent is unchanged.
    expect(
      await t.sql('SELECT sequence, old_status, agent_status, feed_position FROM status_changes WHERE agent_id = ?', [agent.agentId]),
    ).toEqual([{ sequence: 0, old_status: 'logged_out', agent_status: 'logged_out', feed_position: null }]);
    expect((await t.http().get(agent.base).set(admin).expect(200)).body.status).toBe('logged_out');
  });

  it("sends the agent's last change again with its sequence, and the log shows the sync beside the change", async () => {
    const agent = await agentWithEvents(t, { agent_number: '+74951234567' }, [
      { url: receiver.url('/in'), event_type: 'agent-login', method: 'POST' },
    ]);
    await agent.setStatus('available');
    const [change] = await receiver.waitFor(1);
    expect(change.headers['agent-event-sync']).toBeUndefined();

    const response = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/sync`).set(admin).expect(202);
    const sync = (await receiver.waitFor(2))[1];
    expect(sync.body).toBe(change.body);
    expect(sync.body).toBe(
      `agent_status=available&agent_type=remote&event_source=api&agent_id=${agent.agentId}&agent_number=%2B74951234567`,
    );
    expect(sync.headers).toMatchObject({ 'webhook-id': response.body.id, 'agent-event-sync': 'true', 'agent-event-sequence': '1' });
    expect(sync.headers['agent-event-changed-at']).toBe(change.headers['agent-event-changed-at']);
    expect(verifies(await signingSecretOf(t, agent.clientId), sync)).toBe(true);

    const detail = await settled(agent.clientId, response.body.id);
    expect(detail).toMatchObject({ kind: 'sync', state: 'succeeded', status_change: { agent_status: 'available', sequence: 1 } });
    expect(detail.attempts).toEqual([expect.objectContaining({ attempt_number: 1, status_code: 200 })]);
    const log = await t.http().get(`${agent.base}/event/${agent.eventIds[0]}/delivery/`).set(admin).expect(200);
    expect(log.body.deliveries.map((delivery: { id: string; kind: string }) => [delivery.id, delivery.kind])).toEqual([
      [response.body.id, 'sync'],
      [change.headers['webhook-id'], 'change'],
    ]);
    // The change's own status change is the one sent: no second row.
    expect(await rowCounts(agent.clientId)).toEqual({ changes: 1, deliveries: 2 });
  });

  it("waits for the agent's older delivery to the URL, and a newer change waits for it", async () => {
    const agent = await agentWithEvents(t, { extension_name: 'order@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    // The login's webhook is held in flight, then refused once: it is pending while the rest happens.
    let release!: () => void;
    receiver.reply({ status: 503, release: new Promise<void>((resolve) => (release = resolve)) });
    await agent.setStatus('available');
    await receiver.waitFor(1);

    await agent.setStatus('logged_out'); // sequence 2: no webhook (the agent event is agent-login)
    const sync = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/sync`).set(admin).expect(202);
    expect(sync.body).toMatchObject({ state: 'pending', status_change: { agent_status: 'logged_out', sequence: 2 } });
    await agent.setStatus('available'); // sequence 3
    release();

    const requests = await receiver.waitFor(4);
    expect(arrivals(requests)).toEqual([
      ['1', 'change'],
      ['1', 'change'],
      ['2', 'true'],
      ['3', 'change'],
    ]);
    expect(requests[2].headers['webhook-id']).toBe(sync.body.id);
    expect(requests[2].url).toContain('agent_status=logged_out');
    expect(await settled(agent.clientId, sync.body.id)).toMatchObject({ state: 'succeeded', attempt_count: 1 });
  });

  it("is open to the client's own token, and to no other client's", async () => {
    const agent = await agentWithEvents(t, { extension_name: 'own@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    const other = await agentWithEvents(t, { extension_name: 'other@ringme.ru' }, []);
    const own = bearer(await fetchToken(t, await createApplication(t, agent.clientId)));
    const foreign = bearer(await fetchToken(t, await createApplication(t, other.clientId)));
    const path = `${agent.base}/event/${agent.eventIds[0]}/sync`;

    const response = await t.http().post(path).set(own).expect(202);
    expect(response.body).toMatchObject({ kind: 'sync', agent_event_id: agent.eventIds[0] });
    await receiver.waitFor(1);

    expect((await t.http().post(path).set(foreign).expect(403)).body.status).toBe('access_denied');
    // Through its own client id, the other client does not find this agent.
    const through = `/client/${other.clientId}/agent/local/${agent.agentId}/event/${agent.eventIds[0]}/sync`;
    expect((await t.http().post(through).set(foreign).expect(404)).body).toEqual({
      message: `There is no local agent ${agent.agentId} in client ${other.clientId}.`,
      status: 'agent_not_found',
    });
    expect(await rowCounts(agent.clientId)).toEqual({ changes: 1, deliveries: 1 });
    expect(await rowCounts(other.clientId)).toEqual({ changes: 0, deliveries: 0 });
  });

  it('answers 404 naming the missing agent or agent event, and 401 without a token, writing and sending nothing', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'missing@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    const noEvent = await t.http().post(`${agent.base}/event/999999/sync`).set(admin).expect(404);
    expect(noEvent.body).toEqual({ message: `Agent ${agent.agentId} has no agent event 999999.`, status: 'event_not_found' });
    const noAgent = await t
      .http()
      .post(`/client/${agent.clientId}/agent/remote/${agent.agentId}/event/${agent.eventIds[0]}/sync`)
      .set(admin);
    expect([noAgent.status, noAgent.body]).toEqual([
      404,
      { message: `There is no remote agent ${agent.agentId} in client ${agent.clientId}.`, status: 'agent_not_found' },
    ]);
    const noToken = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/sync`);
    expect([noToken.status, noToken.body.status]).toEqual([401, 'invalid_token']);

    expect(await rowCounts(agent.clientId)).toEqual({ changes: 0, deliveries: 0 });
    expect(receiver.requests).toHaveLength(0);
  });
});
