import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import { eventually, Receiver } from './support/receiver.js';
import { freePort, prepareCompiledService, runCommand, runService, type ServiceProcess } from './support/processes.js';
import { ADMIN_TOKEN, createTestApp, deleteQueueKeys, metric, suiteResources } from './support/test-app.js';

const ADMIN = 'ops-admin-secret-0123456789';
const PBX = 'ops-pbx-secret-0123456789';
const RECEIVER_KEY = 'receiver-key-4242';

/** The lines a process wrote as pino JSON (the start-up banner is plain text for a person). */
function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The compiled service as an operator runs it: configuration, health, metrics and logs. */
describe('operating the service', () => {
  const resources = suiteResources('operations');
  const running: ServiceProcess[] = [];
  let env: Record<string, string>;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let base: string;
  let workerBase: string;
  let pool: mysql.Pool;
  let receiver: Receiver;

  beforeAll(async () => {
    const [port, workerPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    workerBase = `http://127.0.0.1:${workerPort}`;
    env = await prepareCompiledService(resources, {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      PORT: String(port),
      WORKER_HEALTH_PORT: String(workerPort),
      ADMIN_TOKEN: ADMIN,
      PBX_TOKEN: PBX,
      TOKEN_SIGNING_KEY: 'operations-test-signing-key-0123456789abcdef',
    });
    api = runService('main', env);
    worker = runService('worker', env);
    running.push(api, worker);
    await api.waitForOutput('Delivery worker:', 60_000);
    await worker.waitForOutput('Delivery worker running', 60_000);
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 2 });
    receiver = await new Receiver().start();
  }, 180_000);

  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await receiver?.stop();
    await pool?.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool?.end();
    const redis = new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  const admin = { Authorization: `Bearer ${ADMIN}` };

  /** A client whose agent logs in (a webhook to the receiver) and out again from its phone. */
  async function loginAndLogout(): Promise<{ clientId: string; agentId: number }> {
    const clientId = 'ops1';
    await request(base).post('/client/').set(admin).send({ id: clientId, name: 'Operations' }).expect(201);
    const agent = await request(base)
      .post(`/client/${clientId}/agent/local/`)
      .set(admin)
      .send({ extension_name: 'ops@ringme.ru' })
      .expect(201);
    await request(base)
      .post(`/client/${clientId}/agent/local/${agent.body.id}/event/`)
      .set(admin)
      .send({ url: receiver.url(`/hook?key=${RECEIVER_KEY}`), event_type: 'agent-login', method: 'POST' })
      .expect(201);
    await request(base).put(`/client/${clientId}/agent/local/${agent.body.id}`).set(admin).send({ status: 'available' }).expect(200);
    await request(base)
      .post('/pbx/agent-command')
      .set({ Authorization: `Bearer ${PBX}` })
      .send({ client_id: clientId, extension_name: 'ops@ringme.ru', command: 'logout' })
      .expect(200);
    return { clientId, agentId: agent.body.id };
  }

  describe('health', () => {
    it('answers /health/live and /health/ready on the API, and /health as before', async () => {
      await request(base).get('/health/live').expect(200, { status: 'ok' });
      await request(base).get('/health/ready').expect(200, { status: 'ok', mysql: 'up', redis: 'up' });
      await request(base).get('/health').expect(200, { status: 'ok', mysql: 'up', redis: 'up' });
    });

    it('answers /health/live and /health/ready on the worker port, ready when it consumes the queue', async () => {
      await request(workerBase).get('/health/live').expect(200, { status: 'ok' });
      // Readiness follows MySQL, Redis and the consumer as they are now: on a machine busy with other suites a check can
      // miss its deadline for a moment (and the consumer pauses while MySQL does not answer). Ready means ready again.
      const ready = await eventually(async () => {
        const response = await request(workerBase).get('/health/ready');
        return response.status === 200 ? response.body : undefined;
      }, 30_000);
      expect(ready).toEqual({ status: 'ok', mysql: 'up', redis: 'up', queue: 'up' });
      const unknown = await request(workerBase).get('/client/').expect(404);
      expect(unknown.body.status).toBe('not_found');
    });
  });

  describe('metrics', () => {
    let deliveryId: string;

    beforeAll(async () => {
      const { clientId } = await loginAndLogout();
      await receiver.waitFor(1);
      deliveryId = await eventually(async () => {
        const [settled] = await pool.query("SELECT id FROM deliveries WHERE client_id = ? AND state = 'succeeded'", [clientId]);
        return (settled as { id: string }[])[0]?.id;
      });
    });

    it('refuses /metrics without basic auth (user admin, the admin token), on the API and on the worker', async () => {
      for (const target of [base, workerBase]) {
        const refused = await request(target).get('/metrics').expect(401);
        expect(refused.body).toEqual({ message: expect.stringContaining('admin token'), status: 'invalid_token' });
        expect(refused.headers['www-authenticate']).toMatch(/^Basic /);
        await request(target).get('/metrics').auth('admin', 'wrong-token-0123456789').expect(401);
        await request(target).get('/metrics').set(admin).expect(401);
      }
    });

    it('counts status changes by source and times API requests by route pattern, never by raw path', async () => {
      const page = (await request(base).get('/metrics').auth('admin', ADMIN).expect(200)).text;
      expect(metric(page, 'agent_events_status_changes_total{event_source="api"}')).toBe(1);
      expect(metric(page, 'agent_events_status_changes_total{event_source="phone"}')).toBe(1);
      expect(
        metric(
          page,
          'agent_events_http_request_duration_seconds_count{method="PUT",route="/client/:client_id/agent/local/:agent_id",status_code="200"}',
        ),
      ).toBe(1);
      expect(
        metric(page, 'agent_events_http_request_duration_seconds_count{method="POST",route="/pbx/agent-command",status_code="200"}'),
      ).toBe(1);
      expect(page).not.toContain('route="/client/ops1');
      for (const state of ['waiting', 'delayed', 'active']) expect(metric(page, `agent_events_queue_jobs{state="${state}"}`)).toBe(0);
      expect(page).not.toContain('agent_events_worker_concurrency');
    });

    it("shows the worker's attempts by outcome, their duration, the change-to-receipt latency the queue depth and its limit of jobs in flight", async () => {
      const page = (await request(workerBase).get('/metrics').auth('admin', ADMIN).expect(200)).text;
      expect(page.split('\n')).toContain('# TYPE agent_events_change_to_receipt_seconds histogram');
      expect(metric(page, 'agent_events_delivery_attempts_total{outcome="succeeded"}')).toBe(1);
      expect(metric(page, 'agent_events_delivery_attempt_duration_seconds_count{outcome="succeeded"}')).toBe(1);
      expect(metric(page, 'agent_events_change_to_receipt_seconds_count')).toBe(1);
      expect(metric(page, 'agent_events_change_to_receipt_seconds_bucket{le="+Inf"}')).toBe(1);
      expect(metric(page, 'agent_events_reconciler_requeued_total')).toBe(0);
      for (const state of ['waiting', 'delayed', 'active']) expect(metric(page, `agent_events_queue_jobs{state="${state}"}`)).toBe(0);
      expect(page).toContain('# TYPE agent_events_breaker_state gauge');
      // WORKER_CONCURRENCY's default: a worker with less work than its limit keeps the limit (adaptive-concurrency.ts).
      expect(metric(page, 'agent_events_worker_concurrency')).toBe(64);
      expect(deliveryId).toMatch(/^msg_/);
    });

    it('counts the worker processes serving each lane of the queue, on the API and on the worker', async () => {
      for (const target of [base, workerBase]) {
        const page = (await request(target).get('/metrics').auth('admin', ADMIN).expect(200)).text;
        expect(page.split('\n')).toContain('# TYPE agent_events_queue_workers gauge');
        // The one worker process serves both lanes.
        expect(metric(page, 'agent_events_queue_workers{lane="first"}')).toBe(1);
        expect(metric(page, 'agent_events_queue_workers{lane="backlog"}')).toBe(1);
      }
      // A second worker process of the first lane alone (a deployment with a worker per lane), then gone again.
      const firstLane = runService('worker', { ...env, WORKER_LANES: 'first', WORKER_HEALTH_PORT: String(await freePort()) });
      running.push(firstLane);
      await firstLane.waitForOutput('Delivery worker running', 60_000);
      const lanes = async () => {
        const page = (await request(base).get('/metrics').auth('admin', ADMIN).expect(200)).text;
        return [metric(page, 'agent_events_queue_workers{lane="first"}'), metric(page, 'agent_events_queue_workers{lane="backlog"}')];
      };
      // Counted once its connections are up: a moment after its start line.
      await eventually(async () => (await lanes()).join() === '2,1');
      firstLane.child.kill('SIGKILL');
      await firstLane.exited;
      await eventually(async () => (await lanes()).join() === '1,1');
    });

    it('logs one JSON line per delivery attempt with its delivery id, host, status code, duration and outcome', async () => {
      const line = await eventually(async () => jsonLines(worker.output()).find((entry) => entry.deliveryId === deliveryId));
      expect(line).toMatchObject({ msg: 'delivery attempt', host: `127.0.0.1:${receiver.port}`, statusCode: 200, outcome: 'succeeded' });
      expect(typeof line.durationMs).toBe('number');
    });
  });

  describe('logs', () => {
    it("keeps the caller's X-Request-Id, echoes it, and puts it on the request's line", async () => {
      const answer = await request(base).get('/client/ops-none').set(admin).set('X-Request-Id', 'ops-trace-42').expect(404);
      expect(answer.headers['x-request-id']).toBe('ops-trace-42');
      const line = await eventually(async () => jsonLines(api.output()).find((entry) => entry.reqId === 'ops-trace-42'));
      expect(line).toMatchObject({ req: { method: 'GET', url: '/client/ops-none' }, res: { statusCode: 404 } });
    });

    it('makes a request id when none (or an unusable one) is given', async () => {
      const made = await request(base).get('/health/live').expect(200);
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const replaced = await request(base).get('/health/live').set('X-Request-Id', 'two words;<script>').expect(200);
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      await eventually(async () => jsonLines(api.output()).some((entry) => entry.reqId === replaced.headers['x-request-id']));
    });

    it('writes JSON lines only, with no token, signature or receiver key in any of them', async () => {
      await request(base).get('/client/ops1').set(admin).expect(200);
      await request(base).get('/admin/queues').auth('admin', ADMIN).expect(200);
      const signature = String(receiver.requests[0].headers['webhook-signature']);
      for (const output of [api.output(), worker.output()]) {
        const lines = output.split('\n').filter(Boolean);
        for (const line of lines.filter((candidate) => !candidate.startsWith('{'))) {
          // The start-up banner, for a person: in production it shows only the tokens' first characters.
          expect(line).toMatch(/^(Listening|API|Swagger UI|Health|Metrics|Bull Board|Allow-list|Admin token|Delivery worker)[ :]/);
        }
        expect(jsonLines(output).length).toBeGreaterThan(0);
        for (const secret of [ADMIN, PBX, RECEIVER_KEY, signature.slice(3), Buffer.from(`admin:${ADMIN}`).toString('base64')]) {
          expect(output).not.toContain(secret);
        }
      }
    });
  });

  describe('configuration', () => {
    /** What a start with a bad value prints: the one sentence, and nothing that looks like a failure or a stack. */
    function expectOneSentence(output: string, variable: string) {
      const sentences = output.split('\n').filter((line) => line.includes(variable));
      expect(sentences).toHaveLength(1);
      expect(sentences[0]).toMatch(new RegExp(`^agent-events: ${variable} .+\\.$`));
      expect(output).not.toMatch(/^\s+at /m);
      expect(output).not.toMatch(/failed|Error/);
    }

    it.each([
      ['node dist/src/main.js', 'WEBHOOK_ALLOWED_CIDRS', 'main', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.1' }],
      ['node dist/src/worker.js', 'WORKER_HEALTH_PORT', 'worker', { WORKER_HEALTH_PORT: 'ninety' }],
      ['node dist/src/worker.js', 'LOG_LEVEL', 'worker', { LOG_LEVEL: 'loud' }],
      ['the migrate step', 'PORT', 'database/migrate', { PORT: 'abc' }],
    ] as const)('%s stops with one sentence naming %s', async (_command, variable, entry, bad) => {
      const broken = runService(entry, { ...env, ...bad });
      expect((await broken.exited).code).toBe(1);
      expectOneSentence(broken.output(), variable);
    });

    // `npm start` and `npm run start:worker` compile first; run one after the other, never at once.
    it.each([
      ['npm start', 'PORT', ['start'], { PORT: 'abc' }],
      ['npm run start:worker', 'WEBHOOK_ALLOWED_CIDRS', ['run', 'start:worker'], { WEBHOOK_ALLOWED_CIDRS: '127.0.0.1' }],
    ] as const)(
      '%s stops with one sentence naming %s, before touching the database',
      async (_command, variable, args, bad) => {
        const broken = runCommand('npm', [...args], { ...env, DATABASE_URL: 'mysql://root@127.0.0.1:1/never_used', ...bad });
        expect((await broken.exited).code).toBe(1);
        expectOneSentence(broken.output(), variable);
        expect(broken.output()).not.toContain('migrat');
      },
      180_000,
    );
  });
});

describe('a lane of the queue that no worker process serves', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    // The worker in the test's process serves the first lane only: nothing takes a backlog's deliveries.
    t = await createTestApp('queue_workers', { WORKER_LANES: 'first' }, { withWorker: true });
  });
  afterAll(() => t.close());

  it('shows 0 worker processes for it in /metrics, where an alert can see it', async () => {
    const page = await eventually(async () => {
      const text = (await t.http().get('/metrics').auth('admin', ADMIN_TOKEN).expect(200)).text;
      // The worker's own connection to its lane is counted once it is up.
      return metric(text, 'agent_events_queue_workers{lane="first"}') === 1 ? text : undefined;
    });
    expect(metric(page, 'agent_events_queue_workers{lane="backlog"}')).toBe(0);
  });
});
