import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WorkerModule } from '../src/worker.module.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver, sleep, type ReceivedRequest } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const HOST_CONCURRENCY = 3;
const MIN_REQUESTS = 4;
const OPEN_MS = 500;
const DELIVERIES = 40;

/** Each webhook id's count among these requests. */
const countById = (requests: ReceivedRequest[]) =>
  requests.reduce(
    (counts, request) => counts.set(String(request.headers['webhook-id']), (counts.get(String(request.headers['webhook-id'])) ?? 0) + 1),
    new Map<string, number>(),
  );

/** Two worker processes on one database and queue: the per-host limits and circuits hold for both together. */
describe('receiver isolation across two workers', () => {
  let t: TestApp;
  let second: INestApplicationContext;

  beforeAll(async () => {
    t = await createTestApp(
      'isolation-workers',
      {
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        WEBHOOK_HOST_CONCURRENCY: String(HOST_CONCURRENCY),
        WEBHOOK_TIMEOUT_MS: '2000',
        WEBHOOK_BREAKER_MIN_REQUESTS: String(MIN_REQUESTS),
        WEBHOOK_BREAKER_WINDOW_MS: '4000',
        WEBHOOK_BREAKER_OPEN_MS: String(OPEN_MS),
        WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms,200ms,200ms,200ms,200ms,200ms',
        DEFAULT_AGENT_EVENT_LIMIT: String(DELIVERIES),
      },
      { withWorker: true },
    );
    // The second worker, as `node dist/src/worker.js` runs it, on the suite's database and queue.
    second = await NestFactory.createApplicationContext(WorkerModule.forRoot({ ...t.config, host: '127.0.0.1', workerHealthPort: 0 }), {
      logger: false,
    });
    await second.init();
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
  });

  /** One login of a fresh agent with DELIVERIES agent events on the receiver: DELIVERIES deliveries to its host. */
  async function deliveriesTo(receiver: Receiver, name: string): Promise<string> {
    const events = Array.from({ length: DELIVERIES }, (_, index) => ({
      url: receiver.url(`/hook/${index}`),
      event_type: 'agent-login' as const,
      method: 'POST' as const,
    }));
    const agent = await agentWithEvents(t, { extension_name: `${name}@ringme.ru` }, events);
    await agent.setStatus('available');
    return agent.clientId;
  }

  it('never has more than WEBHOOK_HOST_CONCURRENCY requests in flight at a slow receiver across both workers, and delivers each once', async () => {
    const slow = await new Receiver('127.0.0.2').start();
    let inFlight = 0;
    let most = 0;
    slow.answer(() => {
      most = Math.max(most, ++inFlight);
      return { status: 200, release: sleep(150).then(() => inFlight--) };
    });
    try {
      const clientId = await deliveriesTo(slow, 'slow');
      await slow.waitFor(DELIVERIES, 30_000);
      const rows = await eventually(async () => {
        const found = await t.sql<{ state: string; attempts: number }>('SELECT state, attempts FROM deliveries WHERE client_id = ?', [
          clientId,
        ]);
        return found.every((row) => row.state === 'succeeded') && found;
      });
      expect(rows).toHaveLength(DELIVERIES);
      expect(rows.every((row) => row.attempts === 1)).toBe(true);
      expect(most).toBeLessThanOrEqual(HOST_CONCURRENCY);
      expect(most).toBe(HOST_CONCURRENCY); // the limit was reached: the test did press on it
      const counts = countById(slow.requests);
      expect(counts.size).toBe(DELIVERIES);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await slow.stop();
    }
  }, 60_000);

  it('opens one circuit for both workers at a failing host: at most one probe per open period, then delivers each once', async () => {
    const failing = await new Receiver('127.0.0.3').start();
    let healthy = false;
    const answeredOk: ReceivedRequest[] = [];
    failing.answer((request) => {
      if (!healthy) return { status: 500 };
      answeredOk.push(request);
      return { status: 200 };
    });
    try {
      const clientId = await deliveriesTo(failing, 'failing');
      const [first] = await failing.waitFor(1, 15_000);
      const spanMs = 5000;
      while (Date.now() - first.at <= spanMs) await sleep(50);
      // By the receiver's clock: the requests that opened the circuit (at most MIN_REQUESTS had to fail, and at most
      // HOST_CONCURRENCY more were in flight then), and after it at most one probe per open period (each probe's
      // failure opens it again for OPEN_MS).
      const during = failing.requests.filter((request) => request.at - first.at <= spanMs).length;
      const bound = MIN_REQUESTS + HOST_CONCURRENCY + Math.floor(spanMs / OPEN_MS) + 1;
      if (during > bound) console.log(`the failing host got ${during} requests in ${spanMs} ms; at most ${bound} expected`);
      expect(during).toBeLessThanOrEqual(bound);

      healthy = true; // the next probe closes the circuit, and everything held goes out
      const rows = await eventually(async () => {
        const found = await t.sql<{ state: string }>('SELECT state FROM deliveries WHERE client_id = ?', [clientId]);
        return found.every((row) => row.state === 'succeeded') && found;
      }, 30_000);
      expect(rows).toHaveLength(DELIVERIES);
      const counts = countById(answeredOk);
      expect(counts.size).toBe(DELIVERIES);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await failing.stop();
    }
  }, 60_000);
});
