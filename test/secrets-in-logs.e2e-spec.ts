import { createAgent, createClient } from './support/api-fixtures.js';
import { eventually, Receiver } from './support/receiver.js';
import { ADMIN_TOKEN, admin, createTestApp, PBX_TOKEN, pbx, type TestApp } from './support/test-app.js';

/** Everything written to stdout, stderr and the console while a test runs: kept here, not printed. */
function captureOutput() {
  const lines: string[] = [];
  const restore: (() => void)[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      lines.push(String(chunk));
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (done) process.nextTick(done);
      return true;
    }) as typeof stream.write;
    restore.push(() => (stream.write = write as typeof stream.write));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      lines.push(
        args.map((arg) => (arg instanceof Error ? `${arg.stack}` : typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '),
      );
    };
    restore.push(() => (console[method] = original));
  }
  return { text: () => lines.join('\n'), stop: () => restore.forEach((undo) => undo()) };
}

describe('no secret is ever written to the log', () => {
  let t: TestApp;
  let receiver: Receiver;
  let capture: ReturnType<typeof captureOutput>;

  beforeAll(async () => {
    capture = captureOutput();
    receiver = await new Receiver().start();
    t = await createTestApp(
      'secrets_in_logs',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,50ms' },
      { withWorker: true, logLevels: ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'] },
    );
  });
  afterAll(async () => {
    capture.stop();
    await t.close();
    await receiver.stop();
  });

  it('holds none of the tokens, signing secrets, signatures or URL passwords used in a run that also fails', async () => {
    const secrets: string[] = [ADMIN_TOKEN, PBX_TOKEN];
    const wrongToken = 'wrong-token-that-someone-tried-0123456789';
    secrets.push(wrongToken);
    await t.http().get('/client/x').set('Authorization', `Bearer ${wrongToken}`).expect(401);

    await createClient(t, 'logs');
    const agentId = await createAgent(t, 'logs', 'local', 'log@ringme.ru');
    const urlPassword = 'url-password-9f8e7d6c';
    secrets.push(urlPassword);
    await t
      .http()
      .post(`/client/logs/agent/local/${agentId}/event/`)
      .set(admin)
      .send({ url: `http://hook:${urlPassword}@127.0.0.1:${receiver.port}/hook`, method: 'POST', event_type: 'agent-login' })
      .expect(201);
    await t
      .http()
      .post(`/client/logs/agent/local/${agentId}/event/`)
      .set(admin)
      .send({ url: receiver.url('/out'), method: 'GET', event_type: 'agent-logout' })
      .expect(201);

    const first = await t.http().get('/client/logs/signing-secret/').set(admin).expect(200);
    secrets.push(first.body.signing_secret);
    const rotated = await t.http().post('/api/ver1.0/client/logs/signing-secret/rotate').set(admin).expect(200);
    secrets.push(rotated.body.signing_secret);

    // Signed webhooks: one from the PBX (phone), one through the API; the first answer fails and is retried.
    receiver.reply({ status: 500, body: 'receiver trouble' });
    await t
      .http()
      .post('/pbx/agent-command')
      .set(pbx)
      .send({ client_id: 'logs', extension_name: 'log@ringme.ru', command: 'login' })
      .expect(200);
    await t.http().put(`/client/logs/agent/local/${agentId}`).set(admin).send({ status: 'logged_out' }).expect(200);
    const received = await receiver.waitFor(3);
    for (const request of received) {
      const header = String(request.headers['webhook-signature']);
      expect(header).toMatch(/^v1,\S+ v1,\S+$/);
      for (const signature of header.split(' ')) secrets.push(signature, signature.slice(3));
      if (request.headers.authorization) secrets.push(String(request.headers.authorization).replace(/^Basic /, ''));
    }
    await eventually(async () => {
      const [{ n }] = await t.sql<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'");
      return n === 0;
    });

    // An internal error: its id is answered and logged.
    await t.sql('RENAME TABLE deliveries TO deliveries_away');
    const failed = await t.http().get('/client/logs/delivery/').set(admin).set('X-Request-Id', 'logs-500').expect(500);
    await t.sql('RENAME TABLE deliveries_away TO deliveries');
    const errorId = /error id ([0-9a-f-]{36})/.exec(failed.body.message)?.[1];

    const log = capture.text();
    expect(errorId).toBeDefined();
    expect(log).toContain(errorId);
    // The error's line and the request's line both carry the request's id.
    const lines = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.errorId === errorId)).toMatchObject({ reqId: 'logs-500', level: 50 });
    expect(lines.find((line) => line.reqId === 'logs-500' && line.res)).toMatchObject({
      req: { method: 'GET', url: '/client/logs/delivery/' },
      res: { statusCode: 500 },
      msg: 'request errored',
    });
    for (const secret of secrets) {
      expect([secret, log.includes(secret)]).toEqual([secret, false]);
    }
    for (const secret of [first.body.signing_secret, rotated.body.signing_secret]) {
      const key = secret.replace(/^whsec_/, '');
      expect([key, log.includes(key)]).toEqual([key, false]);
    }
    expect(log).not.toMatch(/webhook-signature/i);
    expect(log).not.toMatch(/v1,[A-Za-z0-9+/]{40,}={0,2}/);
  });
});
