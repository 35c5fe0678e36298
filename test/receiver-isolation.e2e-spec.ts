import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver, sleep } from './support/receiver.js';
import { admin, createTestApp, metricOf, type TestApp } from './support/test-app.js';

const HANGING_DELIVERIES = 500;
const RUN_MS = 15_000;

describe('receiver isolation', () => {
  let t: TestApp;
  let healthy: Receiver;
  let hanging: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'isolation',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WEBHOOK_TIMEOUT_MS: '2000',
        WEBHOOK_HOST_CONCURRENCY: '8',
        WEBHOOK_BREAKER_WINDOW_MS: '10000',
        WEBHOOK_BREAKER_OPEN_MS: '4000',
        RECONCILE_INTERVAL_MS: '1000',
      },
      { withWorker: true },
    );
    healthy = await new Receiver('127.0.0.1').start();
    // 127.0.0.2 is another host on loopback: it never answers (the worker gives up after its 2 s timeout).
    hanging = await new Receiver('127.0.0.2').start();
    hanging.reply(...Array.from({ length: 5000 }, () => ({ status: 200, delayMs: 3600_000 })));
  });
  afterAll(async () => {
    await healthy.stop();
    await hanging.stop();
    await t.close();
  });

  it("keeps a healthy receiver's webhooks flowing, in order, beside a host that never answers, and loses none of that host's deliveries", async () => {
    // One agent with 500 agent events on the hanging host: one login makes 500 deliveries for it.
    const stuck = await agentWithEvents(t, { extension_name: 'stuck@ringme.ru' }, []);
    await t.http().put(`/client/${stuck.clientId}/limit/`).set(admin).send({ agent_event_limit: HANGING_DELIVERIES }).expect(200);
    for (let i = 0; i < HANGING_DELIVERIES; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          t
            .http()
            .post(`${stuck.base}/event/`)
            .set(admin)
            .send({ url: hanging.url(`/hook/${i + j}`), event_type: 'agent-login', method: 'POST' })
            .expect(201),
        ),
      );
    }
    const flowing = await agentWithEvents(t, { agent_number: '+3712000000' }, [
      { url: healthy.url('/wallboard'), event_type: 'agent-login', method: 'GET' },
      { url: healthy.url('/wallboard'), event_type: 'agent-logout', method: 'GET' },
    ]);

    await stuck.setStatus('available');
    // The 500 deliveries are queued. Another client's change goes before them (fair shares, test/fairness.e2e-spec.ts);
    // this test is about the hanging host, not the backlog, so the flow starts once the worker has taken each up once
    // (or after 5 s), and then runs through the hanging host's first timeouts, its circuit opening, and its probes.
    const queued = Date.now();
    // Both lanes of the queue: the client's first delivery, and the rest of its backlog.
    const waiting = async () =>
      (await t.redis.llen(`${t.config.queuePrefix}:webhooks:wait`)) +
      (await t.redis.llen(`${t.config.queuePrefix}:webhooks-backlog:wait`)) +
      (await t.redis.zcard(`${t.config.queuePrefix}:webhooks-backlog:prioritized`));
    while ((await waiting()) > 0 && Date.now() - queued < 5000) await sleep(20);
    // A steady flow of status changes on the healthy receiver's agent while the 500 deliveries press on the worker.
    let changes = 0;
    const until = Date.now() + RUN_MS;
    while (Date.now() < until) {
      await flowing.setStatus(changes % 2 === 0 ? 'available' : 'logged_out');
      changes++;
      await sleep(40);
    }
    const received = await healthy.waitFor(changes, 10_000);
    // Every change reached the healthy receiver, in order, while the hanging host held its requests (its speed is the
    // bench's to measure: bench/README.md, the fairness and recovery phases).
    expect(received.map((request) => Number(request.headers['agent-event-sequence']))).toEqual(
      Array.from({ length: changes }, (_, n) => n + 1),
    );

    // Every delivery of the hanging host is still pending, none dead (its schedule has hours left), none lost.
    const rows = await t.sql<{ id: string; state: string; attempts: number; held_reason: string | null }>(
      'SELECT id, state, attempts, held_reason FROM deliveries WHERE client_id = ?',
      [stuck.clientId],
    );
    expect(rows).toHaveLength(HANGING_DELIVERIES);
    expect(rows.filter((row) => row.state !== 'pending')).toEqual([]);
    // Held deliveries did not use attempts: the host saw far fewer requests than there are deliveries.
    const attempts = rows.reduce((sum, row) => sum + row.attempts, 0);
    expect(attempts).toBeLessThan(HANGING_DELIVERIES / 2);
    // Each delivery without an attempt went back to wait at least once, counted by what held it.
    const neverTried = rows.filter((row) => row.attempts === 0).length;
    expect(await metricOf(t, 'agent_events_delivery_holds_total{held_by="host"}')).toBeGreaterThanOrEqual(neverTried);
    expect(hanging.requests.length).toBeLessThanOrEqual(attempts + 8);
    // Each one still has its job in the queue (delayed or waiting), so nothing waits for a reconciler to find it.
    const jobs = await eventually(async () => {
      const pipeline = t.redis.pipeline();
      for (const row of rows)
        pipeline.exists(`${t.config.queuePrefix}:webhooks:${row.id}`, `${t.config.queuePrefix}:webhooks-backlog:${row.id}`);
      const found = (await pipeline.exec())!.filter(([, exists]) => exists === 1).length;
      return found === HANGING_DELIVERIES && found;
    }, 5000);
    expect(jobs).toBe(HANGING_DELIVERIES);

    // The delivery log says why they wait, and until when. Which of the host's holds a delivery shows last (its circuit
    // open, half-open while a probe decides, or at its limit of requests) depends on when the worker last looked at it,
    // so every page is read and any of them counts.
    type Row = { held_reason: string | null; next_attempt_at: string };
    const pending: Row[] = [];
    for (let page = 1; page <= HANGING_DELIVERIES / 100; page++) {
      const log = await t.http().get(`/client/${stuck.clientId}/delivery/?state=pending&per_page=100&page=${page}`).set(admin).expect(200);
      pending.push(...(log.body.deliveries as Row[]));
    }
    expect(pending).toHaveLength(HANGING_DELIVERIES);
    const reasons = [
      'held: host 127.0.0.2 circuit open',
      'held: host 127.0.0.2 circuit half-open, a probe is deciding',
      'held: host 127.0.0.2 at its limit of 8 concurrent requests',
    ];
    const held = pending.filter((delivery) => delivery.held_reason !== null);
    for (const delivery of held) expect(reasons).toContain(delivery.held_reason);
    // A hold shorter than a second is not written, so a delivery may still show an older one: some show a hold of now.
    expect(held.filter((delivery) => Date.parse(delivery.next_attempt_at) > Date.now() - 3000).length).toBeGreaterThan(0);
  }, 120_000);
});
