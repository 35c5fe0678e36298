import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { RATE_LIMIT_CACHE_MS } from '../src/clients/clients.service.js';
import { clientWithToken } from './support/client-fixtures.js';
import { admin, createTestApp, pbx, startHttpApp, type TestApp } from './support/test-app.js';

const BUDGET = 5;
const budgetHeaders = (response: request.Response) => ({
  limit: response.headers['x-ratelimit-limit'],
  remaining: response.headers['x-ratelimit-remaining'],
});

describe('rate limits: a budget of requests per hour per client, counted in Redis', () => {
  let t: TestApp;
  let second: INestApplication;
  beforeAll(async () => {
    t = await createTestApp('rate_limits', { RATE_LIMIT_PER_HOUR: String(BUDGET) });
    // A second API process on the same MySQL database and Redis prefix.
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(t.config)] }).compile();
    second = await startHttpApp(moduleRef, ['error', 'warn']);
  });
  afterAll(async () => {
    await second.close();
    await t.close();
  });

  it('tells the budget in X-RateLimit-* headers, counting down, then answers 429 rate_limit_exceeded with Retry-After', async () => {
    const { auth } = await clientWithToken(t, 'counted');
    for (let remaining = BUDGET - 1; remaining >= 0; remaining--) {
      const response = await t.http().get('/api/ver1.0/client/@me/limit/').set(auth).expect(200);
      expect(budgetHeaders(response)).toEqual({ limit: String(BUDGET), remaining: String(remaining) });
      const reset = Number(response.headers['x-ratelimit-reset']);
      expect(reset).toBeGreaterThan(3500);
      expect(reset).toBeLessThanOrEqual(3600);
    }
    const refused = await t.http().get('/client/@me/limit/').set(auth).expect(429);
    expect(refused.body).toEqual({ message: expect.stringContaining(`${BUDGET} requests per hour`), status: 'rate_limit_exceeded' });
    expect(budgetHeaders(refused)).toEqual({ limit: String(BUDGET), remaining: '0' });
    expect(Number(refused.headers['retry-after'])).toBe(Number(refused.headers['x-ratelimit-reset']));
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3500);
  });

  it('refuses a request past the budget before doing it: nothing changes', async () => {
    const { auth } = await clientWithToken(t, 'spent');
    for (let i = 0; i < BUDGET; i++) await t.http().get('/client/@me').set(auth).expect(200);
    await t.http().post('/client/@me/agent/local/').set(auth).send({ extension_name: '101' }).expect(429);
    expect(await t.sql('SELECT id FROM agents WHERE client_id = ?', ['spent'])).toEqual([]);
  });

  it('counts refused requests too, and tells the budget on them', async () => {
    const { auth } = await clientWithToken(t, 'prying');
    const denied = await t.http().get('/client/counted/limit/').set(auth).expect(403);
    expect(budgetHeaders(denied)).toEqual({ limit: String(BUDGET), remaining: String(BUDGET - 1) });
    const missing = await t.http().get('/client/@me/agent/local/99').set(auth).expect(404);
    expect(budgetHeaders(missing)).toEqual({ limit: String(BUDGET), remaining: String(BUDGET - 2) });
  });

  it('does not count the admin and PBX tokens, nor the token endpoint', async () => {
    for (let i = 0; i < BUDGET + 2; i++) {
      const response = await t.http().get('/client/counted/limit/').set(admin).expect(200);
      expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    }
    const command = await t
      .http()
      .post('/pbx/agent-command')
      .set(pbx)
      .send({ client_id: 'counted', extension_name: '1', command: 'login' });
    expect(command.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('holds the budget across two API processes sharing Redis', async () => {
    const { auth } = await clientWithToken(t, 'spread');
    const servers = [t.app.getHttpServer(), second.getHttpServer()];
    for (let i = 0; i < BUDGET; i++) {
      const response = await request(servers[i % 2])
        .get('/client/@me/limit/')
        .set(auth)
        .expect(200);
      expect(response.headers['x-ratelimit-remaining']).toBe(String(BUDGET - 1 - i));
    }
    for (const server of servers) await request(server).get('/client/@me/limit/').set(auth).expect(429);
  });

  it('lets exactly the budget through when many requests arrive at once on both processes, round after round', async () => {
    for (let round = 0; round < 5; round++) {
      const { auth } = await clientWithToken(t, `burst${round}`);
      const servers = [t.app.getHttpServer(), second.getHttpServer()];
      const responses = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          request(servers[i % 2])
            .get('/client/@me')
            .set(auth),
        ),
      );
      const statuses = responses.map((response) => response.status);
      expect([statuses.filter((status) => status === 200).length, statuses.filter((status) => status === 429).length]).toEqual([
        BUDGET,
        24 - BUDGET,
      ]);
      expect(new Set(responses.map((response) => response.headers['x-ratelimit-remaining']))).toEqual(
        new Set(['0', ...Array.from({ length: BUDGET }, (_, i) => String(i))]),
      );
    }
  });

  it("lets the admin set a client's own budget through the limit resource, and put it back to the default with null", async () => {
    const { auth } = await clientWithToken(t, 'vip');
    const set = await t
      .http()
      .put('/api/ver1.0/client/vip/limit/')
      .set(admin)
      .send({ agent_event_limit: 20, rate_limit_per_hour: 8 })
      .expect(200);
    expect(set.body).toEqual({ agent_event_limit: 20, agent_event_count: 0, rate_limit_per_hour: 8 });
    expect(await t.sql('SELECT rate_limit_per_hour FROM clients WHERE id = ?', ['vip'])).toEqual([{ rate_limit_per_hour: 8 }]);
    const read = await t.http().get('/client/@me/limit/').set(auth).expect(200);
    expect(read.body).toEqual({ agent_event_limit: 20, agent_event_count: 0, rate_limit_per_hour: 8 });
    expect(budgetHeaders(read)).toEqual({ limit: '8', remaining: '7' });
    // Leaving the field out keeps it.
    await t
      .http()
      .put('/client/vip/limit/')
      .set(admin)
      .send({ agent_event_limit: 21 })
      .expect(200, { agent_event_limit: 21, agent_event_count: 0, rate_limit_per_hour: 8 });
    for (let i = 0; i < 7; i++) await t.http().get('/client/@me').set(auth).expect(200);
    await t.http().get('/client/@me').set(auth).expect(429);
    await t.http().put('/client/vip/limit/').set(admin).send({ agent_event_limit: 20, rate_limit_per_hour: null }).expect(200, {
      agent_event_limit: 20,
      agent_event_count: 0,
      rate_limit_per_hour: BUDGET,
    });
    const back = await t.http().get('/client/@me').set(auth).expect(429);
    expect(back.headers['x-ratelimit-limit']).toBe(String(BUDGET));
  });

  it(`applies the admin's change in the other API process within ${RATE_LIMIT_CACHE_MS / 1000} s`, async () => {
    const { auth } = await clientWithToken(t, 'raised');
    await request(second.getHttpServer()).get('/client/@me').set(auth).expect(200);
    await t.http().put('/client/raised/limit/').set(admin).send({ agent_event_limit: 20, rate_limit_per_hour: 1000 }).expect(200);
    const changedAt = Date.now();
    let seenAfter = -1;
    while (Date.now() - changedAt < RATE_LIMIT_CACHE_MS + 3000) {
      const response = await request(second.getHttpServer()).get('/client/@me').set(auth);
      if (response.headers['x-ratelimit-limit'] === '1000') {
        seenAfter = Date.now() - changedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(seenAfter).toBeGreaterThanOrEqual(0);
    expect(seenAfter).toBeLessThanOrEqual(RATE_LIMIT_CACHE_MS + 1500);
  });

  it.each([0, -1, 1.5, '10', true, {}])('refuses rate_limit_per_hour %j with 400 validation_failed and changes nothing', async (value) => {
    await t.http().post('/client/').set(admin).send({ id: 'strict', name: 'Strict' });
    const before = await t.sql('SELECT agent_event_limit, rate_limit_per_hour FROM clients WHERE id = ?', ['strict']);
    const response = await t
      .http()
      .put('/client/strict/limit/')
      .set(admin)
      .send({ agent_event_limit: 3, rate_limit_per_hour: value })
      .expect(400);
    expect(response.body).toEqual({ message: expect.stringContaining('rate_limit_per_hour'), status: 'validation_failed' });
    expect(await t.sql('SELECT agent_event_limit, rate_limit_per_hour FROM clients WHERE id = ?', ['strict'])).toEqual(before);
  });

  it("keeps the counters under the deployment's queue prefix in Redis", async () => {
    const keys = await t.redis.keys(`${t.config.queuePrefix}:rate-limit:*`);
    expect(keys).toEqual(
      expect.arrayContaining([`${t.config.queuePrefix}:rate-limit:counted`, `${t.config.queuePrefix}:rate-limit:spread`]),
    );
  });
});
