import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver, sleep } from './support/receiver.js';
import { verifies } from './support/signature.js';
import { admin, createTestApp, pbx, type TestApp } from './support/test-app.js';
import { loopbackName } from './support/loopback-name.js';

describe('webhook delivery', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'delivery',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms,200ms',
        WEBHOOK_TIMEOUT_MS: '700',
        RECONCILE_INTERVAL_MS: '300',
      },
      { withWorker: true },
    );
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  /** The client's newest delivery, as the delivery log shows it, once it has reached `state`. */
  const deliveryIn = (clientId: string, state: 'succeeded' | 'dead') =>
    eventually(async () => {
      const page = await t.http().get(`/client/${clientId}/delivery/`).set(admin).expect(200);
      const detail = await t.http().get(`/client/${clientId}/delivery/${page.body.deliveries[0].id}`).set(admin).expect(200);
      return detail.body.state === state && detail.body;
    });

  it("sends a GET with exactly the spec fields appended to the URL's own query, encoded byte for byte", async () => {
    const agent = await agentWithEvents(t, { extension_name: '000*094@ringme.ru Оператор+1' }, [
      { url: `${receiver.url('/fordel/show.php')}?a=1&b=x%20y`, event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    const [request] = await receiver.waitFor(1);
    expect(request.method).toBe('GET');
    expect(request.body).toBe('');
    expect(request.url).toBe(
      `/fordel/show.php?a=1&b=x%20y&agent_status=available&agent_type=local&event_source=api&agent_id=${agent.agentId}` +
        '&extension_name=000*094%40ringme.ru+%D0%9E%D0%BF%D0%B5%D1%80%D0%B0%D1%82%D0%BE%D1%80%2B1',
    );
    const query = new URL(request.url, 'http://x').searchParams;
    expect(query.get('extension_name')).toBe('000*094@ringme.ru Оператор+1');
    expect(request.headers['user-agent']).toMatch(/^agent-events\/\d+\.\d+\.\d+$/);
    expect(request.headers['agent-event-sequence']).toBe('1');
    expect(new Date(request.headers['agent-event-changed-at'] as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('sends a POST with the spec fields as a form body and nothing else', async () => {
    const agent = await agentWithEvents(t, { agent_number: '+74951234567' }, [
      { url: receiver.url('/in?token=abc'), event_type: 'agent-logout', method: 'POST' },
    ]);
    await agent.setStatus('available');
    await agent.setStatus('logged_out');
    const [request] = await receiver.waitFor(1);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/in?token=abc');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.body).toBe(
      `agent_status=logged_out&agent_type=remote&event_source=api&agent_id=${agent.agentId}&agent_number=%2B74951234567`,
    );
    expect(request.headers['agent-event-sequence']).toBe('2');
  });

  it('signs every request so that the Standard Webhooks verifier accepts it, with both secrets after a rotation', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'sign@ringme.ru' }, [
      { url: receiver.url('/get'), event_type: 'agent-login', method: 'GET' },
      { url: receiver.url('/post'), event_type: 'agent-login', method: 'POST' },
    ]);
    const { body: before } = await t.http().get(`/client/${agent.clientId}/signing-secret/`).set(admin).expect(200);
    expect(before.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await agent.setStatus('available');
    const requests = await receiver.waitFor(2);
    for (const request of requests) {
      expect(request.headers['webhook-id']).toMatch(/^msg_/);
      expect(verifies(before.signing_secret, request)).toBe(true);
      expect(verifies(before.signing_secret, { ...request, body: `${request.body}&x=1`, url: `${request.url}&x=1` })).toBe(false);
    }

    const { body: rotated } = await t.http().post(`/client/${agent.clientId}/signing-secret/rotate`).set(admin).expect(200);
    expect(rotated.signing_secret).not.toBe(before.signing_secret);
    expect(rotated.previous_signing_secret).toBe(before.signing_secret);
    await agent.setStatus('logged_out');
    await agent.setStatus('available');
    for (const request of (await receiver.waitFor(4)).slice(2)) {
      expect((request.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
      expect(verifies(rotated.signing_secret, request)).toBe(true);
      expect(verifies(before.signing_secret, request)).toBe(true);
    }
  });

  it('sends nothing when an available agent logs in again', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'twice@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(1);
    await agent.setStatus('available');
    await t
      .http()
      .post('/pbx/agent-command')
      .set(pbx)
      .send({ client_id: agent.clientId, extension_name: 'twice@ringme.ru', command: 'login' })
      .expect(200);
    await sleep(700);
    expect(receiver.requests).toHaveLength(1);
  });

  it('tells the receiver event_source=phone for a login dialled on the phone', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'phone@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await t
      .http()
      .post('/pbx/agent-command')
      .set(pbx)
      .send({ client_id: agent.clientId, extension_name: 'phone@ringme.ru', command: 'login' })
      .expect(200);
    const [request] = await receiver.waitFor(1);
    expect(request.url).toBe(
      `/hook?agent_status=available&agent_type=local&event_source=phone&agent_id=${agent.agentId}&extension_name=phone%40ringme.ru`,
    );
  });

  it('retries a receiver that answers 500, 500, 200 with the same webhook-id, and logs all three attempts', async () => {
    receiver.reply({ status: 500, body: 'boom' }, { status: 500, body: 'boom again' }, { status: 200, body: 'thanks' });
    const agent = await agentWithEvents(t, { extension_name: 'retry@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    const requests = await receiver.waitFor(3);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((request) => request.url)).size).toBe(1);
    const detail = await deliveryIn(agent.clientId, 'succeeded');
    expect(detail).toMatchObject({
      id: requests[0].headers['webhook-id'],
      state: 'succeeded',
      attempt_count: 3,
      last_status_code: 200,
      last_error: null,
    });
    expect(
      detail.attempts.map((attempt: { status_code: number; response_snippet: string; attempt_number: number }) => [
        attempt.attempt_number,
        attempt.status_code,
        attempt.response_snippet,
      ]),
    ).toEqual([
      [1, 500, 'boom'],
      [2, 500, 'boom again'],
      [3, 200, 'thanks'],
    ]);
    expect(detail.delivered_at).not.toBeNull();
    const [row] = await t.sql<{ state: string; attempts: number }>('SELECT state, attempts FROM deliveries WHERE id = ?', [detail.id]);
    expect(row).toEqual({ state: 'succeeded', attempts: 3 });
  });

  it('logs each attempt as it happened: the exact response text and error, and times in UTC to the millisecond', async () => {
    const odd = 'naïve "quoted" \\ back\u00a0slash — ответ';
    receiver.reply({ status: 503, body: odd }, { status: 200, body: 'ok' });
    const agent = await agentWithEvents(t, { extension_name: 'log-times@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    const before = Date.now();
    await agent.setStatus('available');
    await receiver.waitFor(2);
    const detail = await deliveryIn(agent.clientId, 'succeeded');
    // Once the log shows it succeeded, the worker has read the answer and recorded it.
    const after = Date.now();
    expect(
      detail.attempts.map((attempt: { status_code: number; response_snippet: string }) => [attempt.status_code, attempt.response_snippet]),
    ).toEqual([
      [503, odd],
      [200, 'ok'],
    ]);
    for (const attempt of detail.attempts as { started_at: string }[]) {
      expect(Date.parse(attempt.started_at)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(attempt.started_at)).toBeLessThanOrEqual(after);
    }
    expect(Date.parse(detail.delivered_at)).toBeGreaterThanOrEqual(Date.parse(detail.attempts[1].started_at));
    expect(Date.parse(detail.delivered_at)).toBeLessThanOrEqual(after);
    const [row] = await t.sql<{ last_error: string | null; held_reason: string | null; next_attempt_at: Date | null }>(
      'SELECT last_error, held_reason, next_attempt_at FROM deliveries WHERE id = ?',
      [detail.id],
    );
    expect(row).toEqual({ last_error: null, held_reason: null, next_attempt_at: null });
  });

  it('stops at once on 410 Gone: the delivery is dead after one attempt', async () => {
    receiver.reply({ status: 410 });
    const agent = await agentWithEvents(t, { extension_name: 'gone@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(1);
    const detail = await deliveryIn(agent.clientId, 'dead');
    expect(detail.attempt_count).toBe(1);
    expect(detail.last_status_code).toBe(410);
    await sleep(600);
    expect(receiver.requests).toHaveLength(1);
    const dead = await t.http().get(`/client/${agent.clientId}/delivery/?state=dead`).set(admin).expect(200);
    expect(dead.body.deliveries.map((delivery: { id: string }) => delivery.id)).toEqual([detail.id]);
  });

  it('gives up after the last scheduled attempt and keeps the dead delivery visible; a manual retry sends it again with the same webhook-id', async () => {
    receiver.reply({ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 });
    const agent = await agentWithEvents(t, { extension_name: 'dead@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'POST' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(4);
    const dead = await deliveryIn(agent.clientId, 'dead');
    expect(dead.attempt_count).toBe(4);
    expect(dead.last_error).toMatch(/no retries left/);

    const retried = await t.http().post(`/client/${agent.clientId}/delivery/${dead.id}/retry`).set(admin).expect(202);
    expect(retried.body.id).toBe(dead.id);
    const requests = await receiver.waitFor(5);
    expect(requests[4].headers['webhook-id']).toBe(dead.id);
    expect(requests[4].body).toBe(requests[0].body);
    const after = await deliveryIn(agent.clientId, 'succeeded');
    expect(after.attempt_count).toBe(5);
  });

  it('honours Retry-After on 429 and 503', async () => {
    receiver.reply({ status: 503, headers: { 'Retry-After': '1' } }, { status: 429, headers: { 'Retry-After': '1' } }, { status: 200 });
    const agent = await agentWithEvents(t, { extension_name: 'later@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    const requests = await receiver.waitFor(3, 10_000);
    // The schedule alone would retry after about 200 ms; the receiver asked for a second.
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(950);
    expect(requests[2].at - requests[1].at).toBeGreaterThanOrEqual(950);
  });

  it('counts a receiver that does not answer within the timeout as a failed attempt', async () => {
    receiver.reply({ status: 200, delayMs: 3000 }, { status: 200 });
    const agent = await agentWithEvents(t, { extension_name: 'slow@ringme.ru' }, [
      { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    await receiver.waitFor(2);
    const detail = await deliveryIn(agent.clientId, 'succeeded');
    expect(detail.attempts[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/^timeout/) });
    expect(detail.attempts[0].duration_ms).toBeLessThan(2500);
    expect(detail.attempts[1]).toMatchObject({ status_code: 200, error: null });
  });

  it('does not follow a redirect and counts it as a failure', async () => {
    const target = await new Receiver().start();
    try {
      receiver.reply({ status: 302, headers: { Location: target.url('/elsewhere') } }, { status: 200 });
      const agent = await agentWithEvents(t, { extension_name: 'moved@ringme.ru' }, [
        { url: receiver.url(), event_type: 'agent-login', method: 'GET' },
      ]);
      await agent.setStatus('available');
      await receiver.waitFor(2);
      const detail = await deliveryIn(agent.clientId, 'succeeded');
      // The log names where the receiver pointed: the answer's Location reached the sender.
      expect(detail.attempts[0]).toMatchObject({ status_code: 302, error: `redirect to ${target.url('/elsewhere')} not followed` });
      expect(target.requests).toHaveLength(0);
    } finally {
      await target.stop();
    }
  });

  it('delivers every pending delivery after Redis lost all its data', async () => {
    // Its own app, whose retries wait a second: every delivery is still pending, its retry waiting in Redis, when
    // Redis loses its data (with this suite's 200 ms retries one delivery could use up its attempts first).
    const lost = await createTestApp(
      'delivery_lost',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,1s,1s,1s', RECONCILE_INTERVAL_MS: '300' },
      { withWorker: true },
    );
    try {
      receiver.reply({ status: 503 }, { status: 503 }, { status: 503 });
      const agent = await agentWithEvents(lost, { extension_name: 'lost@ringme.ru' }, [
        { url: receiver.url('/a'), event_type: 'agent-login', method: 'GET' },
        { url: receiver.url('/b'), event_type: 'agent-login', method: 'POST' },
        { url: receiver.url('/c'), event_type: 'agent-logout', method: 'GET' },
      ]);
      await agent.setStatus('available');
      await agent.setStatus('logged_out');
      const first = await receiver.waitFor(3);
      expect(await lost.loseRedisData()).toBeGreaterThan(0);
      expect(new Set(first.slice(0, 3).map((request) => request.url.split('?')[0]))).toEqual(new Set(['/a', '/b', '/c']));
      // Every later answer is 200, and the retries were only in Redis: they can only arrive if enqueued again from MySQL.
      const rows = await eventually(async () => {
        const all = await lost.sql<{ id: string; state: string; attempts: number }>(
          'SELECT id, state, attempts FROM deliveries WHERE client_id = ?',
          [agent.clientId],
        );
        return all.every((row) => row.state === 'succeeded') && all;
      }, 20_000);
      expect(rows).toHaveLength(3);
      expect(rows.map((row) => row.attempts)).toEqual([2, 2, 2]);
      expect(receiver.requests).toHaveLength(6);
    } finally {
      await lost.close();
    }
  });

  it('refuses, at connect time, a host name that resolves to a loopback address when loopback is not allowed', async () => {
    const strict = await createTestApp(
      'delivery_strict',
      { WEBHOOK_RETRY_SCHEDULE: '0', RECONCILE_INTERVAL_MS: '300' },
      { withWorker: true },
    );
    try {
      // A name, not an address literal: create accepts it, and only the connect-time check can refuse it.
      const agent = await agentWithEvents(strict, { extension_name: 'ssrf@ringme.ru' }, [
        { url: `http://${await loopbackName()}:${receiver.port}/hook`, event_type: 'agent-login', method: 'GET' },
      ]);
      await agent.setStatus('available');
      const [delivery] = await eventually(() =>
        strict
          .sql<{ state: string; last_error: string }>("SELECT state, last_error FROM deliveries WHERE client_id = ? AND state = 'dead'", [
            agent.clientId,
          ])
          .then((rows) => rows.length > 0 && rows),
      );
      expect(delivery.last_error).toMatch(/target_not_allowed/);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});
