import { agentWithEvents } from './support/delivery-fixtures.js';
import { loopbackName } from './support/loopback-name.js';
import { Receiver } from './support/receiver.js';
import { signingSecretOf, verifies } from './support/signature.js';
import { CONNECTION_FAILED } from '../src/webhook-sender/webhook-sender.service.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

/** POST …/event/{event_id}/test: a signed sample sent at once, answered with what the receiver said, logged nowhere. */
describe('test events', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp('test_event', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_TIMEOUT_MS: '1000' });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  const rows = async (clientId: string) => {
    const [{ n: changes }] = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM status_changes WHERE client_id = ?', [clientId]);
    const [{ n: deliveries }] = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries WHERE client_id = ?', [clientId]);
    return { changes: Number(changes), deliveries: Number(deliveries) };
  };

  it("sends a local agent's login sample as a signed GET marked as a test, and answers with the receiver's reply", async () => {
    const agent = await agentWithEvents(t, { extension_name: '000*094@ringme.ru' }, [
      { url: receiver.url('/fordel/show.php?a=1'), event_type: 'agent-login', method: 'GET' },
    ]);
    receiver.reply({ status: 200, body: 'got it' });
    const response = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/test`).set(admin).expect(200);

    expect(response.body).toEqual({ status_code: 200, duration_ms: expect.any(Number), response_snippet: 'got it', error: null });
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request.method).toBe('GET');
    expect(request.url).toBe(
      `/fordel/show.php?a=1&agent_status=available&agent_type=local&event_source=api&agent_id=${agent.agentId}` +
        '&extension_name=000*094%40ringme.ru',
    );
    expect(request.headers['agent-event-test']).toBe('true');
    expect(request.headers['webhook-id']).toMatch(/^msg_/);
    expect(verifies(await signingSecretOf(t, agent.clientId), request)).toBe(true);
    expect(verifies('whsec_' + Buffer.from('not the secret of this client').toString('base64'), request)).toBe(false);

    // A test is not a status change: the agent is still logged out, and the delivery log is empty.
    expect(await rows(agent.clientId)).toEqual({ changes: 0, deliveries: 0 });
    const log = await t.http().get(`/client/${agent.clientId}/delivery/`).set(admin).expect(200);
    expect(log.body.deliveries).toEqual([]);
    const current = await t.http().get(agent.base).set(admin).expect(200);
    expect(current.body.status).toBe('logged_out');
  });

  it("sends a remote agent's logout sample as a signed form POST, and reports the receiver's error status", async () => {
    const agent = await agentWithEvents(t, { agent_number: '+74951234567' }, [
      { url: receiver.url('/in'), event_type: 'agent-logout', method: 'POST' },
    ]);
    receiver.reply({ status: 500, body: 'database down' });
    const response = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/test`).set(admin).expect(200);

    expect(response.body).toMatchObject({ status_code: 500, response_snippet: 'database down', error: null });
    const [request] = receiver.requests;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.body).toBe(
      `agent_status=logged_out&agent_type=remote&event_source=api&agent_id=${agent.agentId}&agent_number=%2B74951234567`,
    );
    expect(request.headers['agent-event-test']).toBe('true');
    expect(verifies(await signingSecretOf(t, agent.clientId), request)).toBe(true);
    expect(await rows(agent.clientId)).toEqual({ changes: 0, deliveries: 0 });
  });

  it('answers connection_failed, naming neither address nor port, when nobody listens at the URL', async () => {
    const port = receiver.port;
    await receiver.stop();
    const agent = await agentWithEvents(t, { extension_name: 'down@ringme.ru' }, [
      { url: `http://127.0.0.1:${port}/gone`, event_type: 'agent-login', method: 'GET' },
    ]);
    const response = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/test`).set(admin).expect(200);
    expect(response.body).toMatchObject({
      status_code: null,
      response_snippet: null,
      error: expect.stringMatching(/^connection_failed: /),
    });
    expect(response.body.error).toBe(CONNECTION_FAILED);
    expect(response.body.error).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    expect(response.body.error).not.toContain(String(port));
    receiver = await new Receiver().start();
  });

  it('answers 404 naming the missing agent event, and sends nothing', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'none@ringme.ru' }, []);
    const response = await t.http().post(`${agent.base}/event/999999/test`).set(admin).expect(404);
    expect(response.body).toEqual({ message: `Agent ${agent.agentId} has no agent event 999999.`, status: 'event_not_found' });
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a literal loopback target when the agent event is created, naming the setting that allows it', async () => {
    const strict = await createTestApp('test_event_literal');
    try {
      const agent = await agentWithEvents(strict, { extension_name: 'literal@ringme.ru' }, []);
      const response = await strict
        .http()
        .post(`${agent.base}/event/`)
        .set(admin)
        .send({ url: receiver.url(), event_type: 'agent-login', method: 'GET' })
        .expect(400);
      expect(response.body).toEqual({
        message:
          'url is not allowed: the target is a private or loopback address (or another non-public one), not in WEBHOOK_ALLOWED_CIDRS',
        status: 'target_not_allowed',
      });
    } finally {
      await strict.close();
    }
  });

  it('refuses a host name that resolves to a loopback address when loopback is not allowed, as a real delivery would', async () => {
    const strict = await createTestApp('test_event_strict');
    try {
      const agent = await agentWithEvents(strict, { extension_name: 'ssrf@ringme.ru' }, [
        { url: `http://${await loopbackName()}:${receiver.port}/hook`, event_type: 'agent-login', method: 'GET' },
      ]);
      const response = await strict.http().post(`${agent.base}/event/${agent.eventIds[0]}/test`).set(admin).expect(200);
      expect(response.body).toMatchObject({ status_code: null, error: expect.stringMatching(/^target_not_allowed: /) });
      expect(response.body.error).toContain('WEBHOOK_ALLOWED_CIDRS');
      expect(response.body.error).not.toMatch(/127\.|::1/);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});
