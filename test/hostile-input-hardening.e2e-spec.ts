import { jest } from '@jest/globals';
import { getQueueToken } from '@nestjs/bullmq';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bullmq';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { WEBHOOK_QUEUE } from '../src/delivery-queue/queue.constants.js';
import { WorkerHttpServer } from '../src/delivery-worker/worker-http.server.js';
import { CONNECTION_FAILED } from '../src/webhook-sender/webhook-sender.service.js';
import { WorkerModule } from '../src/worker.module.js';
import { createApplication, type AppCredentials } from './support/client-fixtures.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { loopbackName } from './support/loopback-name.js';
import { freePort } from './support/processes.js';
import { rawRequest, type RawResponse } from './support/raw-http.js';
import { eventually } from './support/receiver.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const unknownId = () => randomBytes(12).toString('hex');
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** One token request with a form body, as a client (or an attacker) sends it. */
function tokenRequest(server: http.Server, clientId: string, clientSecret: string): Promise<RawResponse> {
  return rawRequest(server, {
    method: 'POST',
    path: '/oauth/token',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  });
}

/** How long one request takes, end to end, in ms. */
async function timed(send: () => Promise<RawResponse>, expectedStatus: number): Promise<number> {
  const started = performance.now();
  const response = await send();
  const elapsed = performance.now() - started;
  expect(response.status).toBe(expectedStatus);
  return elapsed;
}

/** Finding 1: the token endpoint tells no existing id from an unknown one by its timing. */
describe('hostile input: POST /oauth/token timing', () => {
  const TRIES = 200;
  let t: TestApp;
  let server: http.Server;
  let app: AppCredentials;

  beforeAll(async () => {
    // Throttling would answer most of these 400 failures with a cheap 429: this test times the verification itself.
    t = await createTestApp('hostile_token_timing', { TOKEN_FAILURES_PER_APPLICATION: '100000', TOKEN_FAILURES_PER_ADDRESS: '100000' });
    server = t.app.getHttpServer() as http.Server;
    await t.http().post('/client/').set(admin).send({ id: 'timing', name: 'Timing' }).expect(201);
    app = await createApplication(t, 'timing');
  });
  afterAll(() => t.close());

  it(`takes as long for an unknown application id as for a wrong secret (medians within 20 % over ${TRIES} tries each)`, async () => {
    const unknown: number[] = [];
    const wrong: number[] = [];
    // One unknown id, as an attacker probing whether that id exists asks: like the real one, it is looked up in MySQL
    // once and then answered from the application cache.
    const nobody = unknownId();
    const tryUnknown = () => timed(() => tokenRequest(server, nobody, 'not-the-secret'), 401);
    const tryWrong = () => timed(() => tokenRequest(server, app.client_id, 'not-the-secret'), 401);
    for (let i = 0; i < 10; i++) await Promise.all([tryUnknown(), tryWrong()]); // warm-up, not counted
    // Interleaved, first one then the other, so that a slower or faster stretch of the machine weighs on both alike.
    for (let i = 0; i < TRIES; i++) {
      if (i % 2) {
        unknown.push(await tryUnknown());
        wrong.push(await tryWrong());
      } else {
        wrong.push(await tryWrong());
        unknown.push(await tryUnknown());
      }
    }
    const [unknownMedian, wrongMedian] = [median(unknown), median(wrong)];
    console.log(`token timing: unknown id median ${unknownMedian.toFixed(2)} ms, wrong secret median ${wrongMedian.toFixed(2)} ms`);
    expect(Math.max(unknownMedian, wrongMedian) / Math.min(unknownMedian, wrongMedian)).toBeLessThanOrEqual(1.2);
  }, 120_000);
});

/** Finding 1: failed token requests are throttled per application id and per source address, in Redis. */
describe('hostile input: POST /oauth/token throttling', () => {
  const PER_APPLICATION = 5;
  const PER_ADDRESS = 12;
  let t: TestApp;
  let server: http.Server;
  let app: AppCredentials;

  beforeAll(async () => {
    t = await createTestApp('hostile_token_throttle', {
      TOKEN_FAILURES_PER_APPLICATION: String(PER_APPLICATION),
      TOKEN_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
    });
    server = t.app.getHttpServer() as http.Server;
    await t.http().post('/client/').set(admin).send({ id: 'throttled', name: 'Throttled' }).expect(201);
    app = await createApplication(t, 'throttled');
  });
  afterAll(() => t.close());
  // Each case starts with no failure counted (the counters live under the suite's queue prefix).
  beforeEach(() => t.loseRedisData());

  function expectThrottled(response: RawResponse) {
    expect(response.status).toBe(429);
    expect(response.body).toEqual({ message: expect.stringContaining('Too many failed token requests'), status: 'rate_limit_exceeded' });
    const retryAfter = Number(response.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
  }

  it('answers 429 rate_limit_exceeded with Retry-After once an application id has had its failed attempts, the right secret too', async () => {
    for (let i = 0; i < PER_APPLICATION; i++) expect((await tokenRequest(server, app.client_id, `wrong-${i}`)).status).toBe(401);
    expectThrottled(await tokenRequest(server, app.client_id, 'wrong-again'));
    expectThrottled(await tokenRequest(server, app.client_id, app.client_secret));
  });

  it('throttles an unknown application id exactly as a known one, so a 429 tells nothing about which ids exist', async () => {
    const nobody = unknownId();
    for (let i = 0; i < PER_APPLICATION; i++) expect((await tokenRequest(server, nobody, `wrong-${i}`)).status).toBe(401);
    expectThrottled(await tokenRequest(server, nobody, 'wrong-again'));
  });

  it('answers 429 once one address has had its failed attempts, whatever the id (and leaves a right secret alone before that)', async () => {
    expect((await tokenRequest(server, app.client_id, app.client_secret)).status).toBe(200);
    for (let i = 0; i < PER_ADDRESS; i++) expect((await tokenRequest(server, unknownId(), 'guess')).status).toBe(401);
    expectThrottled(await tokenRequest(server, unknownId(), 'guess'));
    expectThrottled(await tokenRequest(server, app.client_id, app.client_secret));
  });

  it("keeps an authenticated client's requests within 2× their idle latency under a bounded flood of wrong secrets", async () => {
    const SAMPLES = 100;
    // The probe's flood: 8 threads, each sending its next wrong secret as soon as the last was answered, ~75 a second
    // in all. Here each of 8 flooders sends one every 80 ms at most (~100 a second), as long as the client is timed.
    const FLOODERS = 8;
    const FLOOD_INTERVAL_MS = 80;
    const FLOOD_MAX = 3000;
    await t.http().post('/client/').set(admin).send({ id: 'bystander', name: 'Bystander' }).expect(201);
    const bystander = await createApplication(t, 'bystander');
    const { access_token: token } = (await tokenRequest(server, bystander.client_id, bystander.client_secret)).body as {
      access_token: string;
    };
    const get = () =>
      timed(() => rawRequest(server, { method: 'GET', path: '/client/@me/limit/', headers: { Authorization: `Bearer ${token}` } }), 200);
    const samples = async () => {
      const times: number[] = [];
      for (let i = 0; i < SAMPLES; i++) times.push(await get());
      return times;
    };
    for (let i = 0; i < 10; i++) await get(); // warm-up, not counted
    const idle = median(await samples());

    let sent = 0;
    let measuring = true;
    const statuses = new Set<number>();
    const flooders = Array.from({ length: FLOODERS }, async () => {
      while (measuring && sent < FLOOD_MAX) {
        const next = Date.now() + FLOOD_INTERVAL_MS;
        sent++;
        statuses.add((await tokenRequest(server, app.client_id, `flood-${sent}`)).status);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
      }
    });
    // The flood is under way before the client is timed.
    while (sent < FLOODERS * 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const flooded = median(await samples());
    measuring = false;
    await Promise.all(flooders);
    console.log(`flood: ${sent} wrong secrets; client median ${idle.toFixed(2)} ms idle, ${flooded.toFixed(2)} ms flooded`);
    expect([...statuses].filter((status) => status !== 401 && status !== 429)).toEqual([]);
    expect(flooded / idle).toBeLessThanOrEqual(2);
  }, 120_000);
});

/** What a plain GET to a URL gives: the status, or the connection error's code. */
function probe(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/**
 * Findings 2 and 3: a tenant's test event and delivery log say what failed in one of a few classes, never with an
 * address, a port or whether a port is closed; and the worker's health port listens where HOST says, out of a
 * tenant's reach when HOST is not in the allow-list.
 */
describe('hostile input: what a tenant learns about the network', () => {
  // A tenant may reach 127.0.0.2 (as if it were a partner's host the operator allowed); the worker listens on HOST.
  const ALLOWED = '127.0.0.2';
  let t: TestApp;
  let worker: INestApplicationContext;
  let workerPort: number;
  let resetServer: ReturnType<typeof createServer>;
  const logged: string[] = [];

  beforeAll(async () => {
    t = await createTestApp('hostile_network', {
      WEBHOOK_ALLOWED_CIDRS: `${ALLOWED}/32`,
      WEBHOOK_RETRY_SCHEDULE: '0,50ms',
      WEBHOOK_TIMEOUT_MS: '2000',
      RECONCILE_INTERVAL_MS: '200',
    });
    // The worker as `node dist/src/worker.js` runs it, on the suite's database and queue, with HOST=127.0.0.1.
    worker = await NestFactory.createApplicationContext(WorkerModule.forRoot({ ...t.config, host: '127.0.0.1', workerHealthPort: 0 }), {
      logger: false,
    });
    await worker.init();
    workerPort = worker.get(WorkerHttpServer).port!;
    // A receiver that accepts the connection and drops it at once (a reset, where a closed port refuses).
    resetServer = createServer((socket: Socket) => socket.destroy());
    await new Promise<void>((resolve) => resetServer.listen(0, ALLOWED, resolve));
    for (const level of ['log', 'warn'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation(function (this: Logger, message: unknown) {
        logged.push(JSON.stringify(message));
      });
    }
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await new Promise((resolve) => resetServer.close(resolve));
    await worker.close();
    await t.close();
  });

  async function testEvent(app: TestApp, url: string) {
    const agent = await agentWithEvents(app, { extension_name: `probe${randomBytes(3).toString('hex')}@ringme.ru` }, [
      { url, event_type: 'agent-login', method: 'GET' },
    ]);
    const response = await app.http().post(`${agent.base}/event/${agent.eventIds[0]}/test`).set(admin).expect(200);
    return response.body as { status_code: number | null; response_snippet: string | null; error: string | null };
  }

  it('listens on HOST only with the worker health port, so a test event to another allowed address cannot read it', async () => {
    expect(await probe(`http://127.0.0.1:${workerPort}/health/live`)).toBe(200);
    expect(await probe(`http://${ALLOWED}:${workerPort}/health/live`)).toBe('ECONNREFUSED');
    const answer = await testEvent(t, `http://${ALLOWED}:${workerPort}/health/ready`);
    expect(answer).toEqual({ status_code: null, duration_ms: expect.any(Number), response_snippet: null, error: CONNECTION_FAILED });
  });

  it('answers a closed port, a dropped connection and a name that does not resolve with one and the same connection_failed', async () => {
    const closedPort = await freePort();
    const resetPort = (resetServer.address() as AddressInfo).port;
    const answers = [
      await testEvent(t, `http://${ALLOWED}:${closedPort}/hook`),
      await testEvent(t, `http://${ALLOWED}:${resetPort}/hook`),
      await testEvent(t, `http://nx-${randomBytes(6).toString('hex')}.invalid/hook`),
    ];
    for (const answer of answers) {
      expect(answer).toEqual({ status_code: null, duration_ms: expect.any(Number), response_snippet: null, error: CONNECTION_FAILED });
    }
    // The operator's log keeps what the tenant is not told.
    expect(logged.some((line) => line.includes('ECONNREFUSED') && line.includes(`${ALLOWED}:${closedPort}`))).toBe(true);
  });

  it('refuses a name that resolves to a loopback address, and a literal one, saying why in general terms and naming no address', async () => {
    const strict = await createTestApp('hostile_network_strict');
    try {
      const answer = await testEvent(strict, `http://${await loopbackName()}:${workerPort}/health/ready`);
      expect(answer.status_code).toBeNull();
      expect(answer.error).toBe(
        'target_not_allowed: the target is a private or loopback address (or another non-public one), not in WEBHOOK_ALLOWED_CIDRS',
      );
      const agent = await agentWithEvents(strict, { extension_name: 'literal@ringme.ru' }, []);
      const refused = await strict
        .http()
        .post(`${agent.base}/event/`)
        .set(admin)
        .send({ url: 'http://127.0.0.9:9/', event_type: 'agent-login', method: 'GET' })
        .expect(400);
      expect(refused.body).toEqual({ message: expect.stringContaining('a private or loopback address'), status: 'target_not_allowed' });
      expect(refused.body.message).toContain('not in WEBHOOK_ALLOWED_CIDRS');
      expect(refused.body.message).not.toContain('127.0.0.9');
      // The operator's log names the address that was refused.
      expect(logged.some((line) => /address (127\.|::1)/.test(line))).toBe(true);
    } finally {
      await strict.close();
    }
  });

  it('keeps the delivery log and the job Bull Board shows to connection_failed, with no address or port', async () => {
    const closedPort = await freePort();
    const agent = await agentWithEvents(t, { extension_name: 'logged@ringme.ru' }, [
      { url: `http://${ALLOWED}:${closedPort}/hook`, event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    const [{ id }] = await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE client_id = ?', [agent.clientId]);
    const delivery = await eventually(async () => {
      const response = await t.http().get(`/client/${agent.clientId}/delivery/${id}`).set(admin).expect(200);
      return response.body.state === 'dead' ? response.body : undefined;
    });
    const job = await t.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE)).getJob(id);
    // Everything but the URL the tenant gave.
    const seen = JSON.stringify({
      ...delivery,
      url: undefined,
      job: { failedReason: job?.failedReason, returnvalue: job?.returnvalue, data: job?.data },
    });
    expect(delivery.last_error).toBe(`${CONNECTION_FAILED}; no retries left`);
    expect((delivery.attempts as { error: string }[]).map((attempt) => attempt.error)).toEqual([CONNECTION_FAILED, CONNECTION_FAILED]);
    expect(job?.failedReason).toBe(`${CONNECTION_FAILED}; no retries left`);
    for (const leak of [ALLOWED, String(closedPort), 'ECONNREFUSED']) expect(seen).not.toContain(leak);
  });
});
