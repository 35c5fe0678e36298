import { agentWithEvents } from './support/delivery-fixtures.js';
import { expectFairAndExact, lanesOf, noisyNeighbour } from './support/fair-order.js';
import { eventually, Receiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const CONCURRENCY = 8;
const AGENTS = 30;
const EVENTS_PER_AGENT = 100;
const CHANGES = 20;

describe('fair shares of the workers between clients', () => {
  let t: TestApp;
  let a: Receiver;
  let b: Receiver;

  beforeAll(async () => {
    t = await createTestApp(
      'fairness',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        // As many requests to one host as the worker runs at once: A's deliveries are never held for their host's
        // limit, so what B waits for is the queue alone.
        WEBHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
      },
      { withWorker: true },
    );
    // Two hosts: 127.0.0.2 is another host than 127.0.0.1 for the worker's per-host isolation.
    a = await new Receiver('127.0.0.1').start();
    b = await new Receiver('127.0.0.2').start();
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await t.close();
  });

  it("delivers a quiet client's changes past a noisy client's backlog of 3,000, and every delivery of both exactly once", async () => {
    const run = await noisyNeighbour(t, {
      prefix: 'e2e',
      agents: AGENTS,
      eventsPerAgent: EVENTS_PER_AGENT,
      aReplyDelayMs: 20,
      changes: CHANGES,
      a,
      b,
    });
    // The bound is a count of A's webhooks, not a time: while B's change waits for a worker, only the requests of A
    // already in flight (and those started by slots freed before B's job was taken) go out. In one FIFO queue it is
    // the whole backlog queued before B's change, thousands.
    expect(run.windows).toHaveLength(CHANGES);
    expectFairAndExact(run, 4 * CONCURRENCY);
    expect(a.requests).toHaveLength(run.aTotal);
    expect(b.requests).toHaveLength(CHANGES);
    // B's every delivery was its client's only one waiting: each went through the queue's first lane, where no backlog
    // is; A's went through the backlog lane, but for its first (one per burst of logins at most, if A's count came
    // back to zero in between).
    const queue = { redis: t.redis, queuePrefix: t.config.queuePrefix };
    expect(await lanesOf(t, queue, 'e2e-quiet')).toEqual({ first: CHANGES, backlog: 0, none: 0 });
    const lanesOfA = await lanesOf(t, queue, 'e2e-noisy');
    expect(lanesOfA.none).toBe(0);
    expect(lanesOfA.first).toBeGreaterThanOrEqual(1);
    expect(lanesOfA.first).toBeLessThanOrEqual(AGENTS);
  }, 180_000);

  it("forgets a client's count that drifted (a delivery counted in and never taken) once nothing waits in the queue", async () => {
    const fair = `${t.config.queuePrefix}:webhooks:fair`;
    // A count of 5,000 deliveries of a client that has none queued: its next delivery would go after everyone's 5,000th.
    await t.redis.hset(fair, 'drifted', 5000);
    const agent = await agentWithEvents(t, { extension_name: 'after-drift@ringme.ru' }, [
      { url: b.url('/after-drift'), event_type: 'agent-login', method: 'GET' },
    ]);
    const before = b.requests.length;
    await agent.setStatus('available');
    await b.waitFor(before + 1);
    // The worker took the only job, and nothing waited after it: every count is gone, the drifted one too.
    await eventually(async () => (await t.redis.exists(fair)) === 0);
    expect(await t.redis.hget(fair, 'drifted')).toBeNull();
  });
});
