import { jest } from '@jest/globals';
import { failedHost, hostOf } from '../delivery-worker/attempt-outcome.js';
import type { SendResult } from '../webhook-sender/webhook-sender.service.js';
import { HostIsolation, type Admission, type CircuitState, type HostIsolationOptions } from './host-isolation.js';

/**
 * The per-host slot and circuit policy of HostIsolation, on a fake clock (jest's fake timers drive Date.now and
 * opossum's reset and window timers) and an injected random: every delay is exact. Complements host-isolation.spec.ts,
 * which covers the basics on the real clock.
 */

const base: HostIsolationOptions = { concurrency: 2, errorPercent: 50, minRequests: 4, windowMs: 10_000, openMs: 300, probeMs: 1000 };
const failed = (status: number) => status >= 500;

/** A request that answers `status` when `finish` is called; `started` says whether it ran at all. */
function pending(status: number) {
  let finish!: () => void;
  const done = new Promise<number>((resolve) => {
    finish = () => resolve(status);
  });
  const request = {
    started: false,
    finish,
    action: () => {
      request.started = true;
      return done;
    },
  };
  return request;
}

/** Lets every promise and microtask settle (setImmediate is left real). */
const settle = () => new Promise((resolve) => setImmediate(resolve));
type Held = Extract<Admission<unknown>, { ran: false }>;

describe('HostIsolation policy (fake clock)', () => {
  let random = 0.5;
  let changes: [string, CircuitState][];
  const made: HostIsolation[] = [];
  const isolationWith = (overrides: Partial<HostIsolationOptions> = {}) => {
    const isolation = new HostIsolation(
      { ...base, ...overrides, onStateChange: (host, state) => changes.push([host, state]) },
      () => random,
    );
    made.push(isolation);
    return isolation;
  };
  const send = (isolation: HostIsolation, host: string, status: number) => isolation.run(host, () => Promise.resolve(status), failed);
  /** Runs a request that must not start, and returns how it was held. */
  const held = async (isolation: HostIsolation, host: string): Promise<Held> => {
    const request = pending(200);
    const admission = await isolation.run(host, request.action, failed);
    expect(request.started).toBe(false);
    expect(admission.ran).toBe(false);
    return admission as Held;
  };

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    random = 0.5;
    changes = [];
  });
  afterEach(() => {
    for (const isolation of made.splice(0)) isolation.shutdown();
    jest.useRealTimers();
  });

  describe('slots', () => {
    it('holds a request at the limit without running it, taking a slot, or counting it towards the circuit', async () => {
      const isolation = isolationWith({ concurrency: 1, minRequests: 4, errorPercent: 50 });
      const blocker = pending(500);
      const running = isolation.run('a.example', blocker.action, failed);
      for (let i = 0; i < 5; i++)
        expect((await held(isolation, 'a.example')).reason).toBe('held: host a.example at its limit of 1 concurrent requests');
      blocker.finish();
      expect(await running).toEqual({ ran: true, value: 500 });
      // The slot is free again: the next request runs at once.
      expect(await send(isolation, 'a.example', 502)).toEqual({ ran: true, value: 502 });
      expect(await send(isolation, 'a.example', 503)).toEqual({ ran: true, value: 503 });
      expect(isolation.stateOf('a.example')).toBe('closed');
      // Four requests ran, all failed: the held ones neither made up the volume nor diluted the error rate.
      expect(await send(isolation, 'a.example', 500)).toEqual({ ran: true, value: 500 });
      expect(isolation.stateOf('a.example')).toBe('open');
    });

    it('gives every host its own `concurrency` slots; the ports of one host share them', async () => {
      const isolation = isolationWith({ concurrency: 2 });
      const requests = [pending(200), pending(200), pending(200), pending(200)];
      const running = [
        isolation.run(hostOf('https://a.example:8443/hook'), requests[0].action, failed),
        isolation.run(hostOf('http://a.example:8080/other'), requests[1].action, failed),
        isolation.run(hostOf('https://b.example/hook'), requests[2].action, failed),
        isolation.run(hostOf('https://b.example/hook'), requests[3].action, failed),
      ];
      await settle();
      expect(requests.map((request) => request.started)).toEqual([true, true, true, true]);
      expect((await held(isolation, hostOf('https://a.example/third'))).reason).toBe(
        'held: host a.example at its limit of 2 concurrent requests',
      );
      expect((await held(isolation, hostOf('https://b.example:9000/'))).reason).toBe(
        'held: host b.example at its limit of 2 concurrent requests',
      );
      expect(await send(isolation, hostOf('https://c.example/'), 200)).toEqual({ ran: true, value: 200 });
      // Freeing a slot of b.example does nothing for a.example.
      requests[2].finish();
      await running[2];
      await held(isolation, 'a.example');
      expect(await send(isolation, 'b.example', 200)).toEqual({ ran: true, value: 200 });
      requests.forEach((request) => request.finish());
      await Promise.all(running);
    });

    it('gives the slot back and passes the error on when a request throws, and counts the throw against the host', async () => {
      const isolation = isolationWith({ concurrency: 1, minRequests: 2, errorPercent: 50 });
      await expect(isolation.run('a.example', () => Promise.reject(new Error('boom')), failed)).rejects.toThrow('boom');
      expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
      expect(isolation.stateOf('a.example')).toBe('closed');
      await expect(isolation.run('a.example', () => Promise.reject(new Error('boom')), failed)).rejects.toThrow('boom');
      expect(isolation.stateOf('a.example')).toBe('open'); // two failures of three
    });

    it('lets work wait at most 250 ms in the process for a slot of a fast host, then holds it and forgets the wait', async () => {
      const isolation = isolationWith({ concurrency: 2 });
      expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 }); // answered in 0 ms: a fast host
      const blockers = [pending(200), pending(200)];
      const running = blockers.map((blocker) => isolation.run('a.example', blocker.action, failed));
      await settle();
      const waiter = pending(200);
      let admission: Admission<number> | undefined;
      void isolation.run('a.example', waiter.action, failed).then((result) => (admission = result));
      await jest.advanceTimersByTimeAsync(249);
      expect(admission).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      // Both blockers have run 250 ms: the host counts as taking 250 ms, a slot each 125 ms.
      expect(admission).toEqual({ ran: false, reason: 'held: host a.example at its limit of 2 concurrent requests', delayMs: 125 });
      expect(waiter.started).toBe(false);
      blockers.forEach((blocker) => blocker.finish());
      await Promise.all(running);
      // The waiter that gave up holds no slot and is not handed one: two new requests both start at once.
      const next = [pending(200), pending(200)];
      const nextRunning = next.map((request) => isolation.run('a.example', request.action, failed));
      await settle();
      expect(next.map((request) => request.started)).toEqual([true, true]);
      next.forEach((request) => request.finish());
      await Promise.all(nextRunning);
    });
  });

  describe("a held request's delay", () => {
    it("books each held request the host's assumed latency after the one before, with ±10% jitter", async () => {
      const isolation = isolationWith({ concurrency: 1, openMs: 10_000 });
      const blocker = pending(200);
      const running = isolation.run('a.example', blocker.action, failed);
      await settle();
      random = 0;
      expect((await held(isolation, 'a.example')).delayMs).toBe(45); // 50 ms × 0.9
      random = 1;
      expect((await held(isolation, 'a.example')).delayMs).toBe(110); // booked until 100 ms, × 1.1
      random = 0.5;
      expect((await held(isolation, 'a.example')).delayMs).toBe(150);
      blocker.finish();
      await running;
    });

    it('learns how long the host takes, and counts a request still running as at least as slow as it has been', async () => {
      const isolation = isolationWith({ concurrency: 1, openMs: 10_000 });
      const slow = pending(200);
      const slowRunning = isolation.run('a.example', slow.action, failed);
      await settle();
      expect(slow.started).toBe(true);
      jest.advanceTimersByTime(2000);
      slow.finish();
      await slowRunning;
      // A moving average: 0.8 × 50 + 0.2 × 2000 = 440 ms. Slower than 250 ms: held at once, no wait in the process.
      const blocker = pending(200);
      const running = isolation.run('a.example', blocker.action, failed);
      await settle();
      expect((await held(isolation, 'a.example')).delayMs).toBe(440);
      // The blocker has now run 1000 ms: the booking starts again from now, at 1000 ms per request.
      jest.advanceTimersByTime(1000);
      expect((await held(isolation, 'a.example')).delayMs).toBe(1000);
      blocker.finish();
      await running;
    });

    it('holds work while the circuit is open until it half-opens, plus a spread of up to the open time', async () => {
      const isolation = isolationWith({ openMs: 300 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('open');
      random = 0;
      expect(await held(isolation, 'a.example')).toEqual({ ran: false, reason: 'held: host a.example circuit open', delayMs: 300 });
      jest.advanceTimersByTime(100);
      expect((await held(isolation, 'a.example')).delayMs).toBe(200);
      random = 0.5;
      expect((await held(isolation, 'a.example')).delayMs).toBe(350);
      random = 1;
      expect((await held(isolation, 'a.example')).delayMs).toBe(500);
    });

    it('spreads work held by a long open circuit over at most 5 s', async () => {
      const isolation = isolationWith({ openMs: 60_000 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      random = 1;
      expect((await held(isolation, 'a.example')).delayMs).toBe(65_000);
      jest.advanceTimersByTime(59_000);
      expect((await held(isolation, 'a.example')).delayMs).toBe(6000);
    });

    it('never gives a held request a delay under 1 ms, even when the reset timer is late', async () => {
      const isolation = isolationWith({ openMs: 300 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      jest.setSystemTime(Date.now() + 300); // the clock moves on, the reset timer has not fired yet
      random = 0;
      expect(isolation.stateOf('a.example')).toBe('open');
      expect((await held(isolation, 'a.example')).delayMs).toBe(1);
    });
  });

  describe('opening the circuit', () => {
    it.each([
      // errorPercent, minRequests, answers, state after each
      [50, 4, [200, 500, 200, 500, 500], ['closed', 'closed', 'closed', 'closed', 'open']], // 50% is not more than 50%
      [25, 2, [200, 200, 200, 500, 500], ['closed', 'closed', 'closed', 'closed', 'open']], // 25% stays closed, 40% opens
      [50, 5, [500, 500, 500, 500, 500], ['closed', 'closed', 'closed', 'closed', 'open']], // 100%, but only at 5 requests
      [80, 1, [500], ['open']],
    ])('with errorPercent %i and minRequests %i, answers %j leave the circuit %j', async (errorPercent, minRequests, answers, states) => {
      const isolation = isolationWith({ errorPercent, minRequests, concurrency: 10 });
      const seen: CircuitState[] = [];
      for (const status of answers) {
        expect(await send(isolation, 'a.example', status)).toEqual({ ran: true, value: status });
        seen.push(isolation.stateOf('a.example'));
      }
      expect(seen).toEqual(states);
    });

    it('forgets requests older than the window', async () => {
      const isolation = isolationWith({ errorPercent: 50, minRequests: 4, windowMs: 10_000 });
      for (let i = 0; i < 3; i++) await send(isolation, 'a.example', 500);
      jest.advanceTimersByTime(10_000);
      await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('closed'); // one failure in the window, not four
      for (let i = 0; i < 3; i++) await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('open');
    });

    it('counts 5xx answers and connection errors against the host, not 4xx, redirects or refused targets (failedHost)', async () => {
      const isolation = isolationWith({ errorPercent: 50, minRequests: 2 });
      const result = (statusCode: number | null, error: string | null = null): SendResult => ({
        statusCode,
        error,
        retryAfter: undefined,
        responseSnippet: null,
        durationMs: 1,
      });
      const sendResult = (host: string, value: SendResult) => isolation.run(host, () => Promise.resolve(value), failedHost);
      for (const value of [result(404), result(429), result(301), result(null, 'target_not_allowed: private address')]) {
        for (let i = 0; i < 3; i++) expect(await sendResult('a.example', value)).toEqual({ ran: true, value });
      }
      expect(isolation.stateOf('a.example')).toBe('closed');
      await sendResult('b.example', result(null, 'timeout'));
      await sendResult('b.example', result(null, 'ECONNREFUSED'));
      expect(isolation.stateOf('b.example')).toBe('open');
      await sendResult('c.example', result(503));
      await sendResult('c.example', result(500));
      expect(isolation.stateOf('c.example')).toBe('open');
    });

    it('holds work that waited for a slot when the circuit opened meanwhile, and gives its slot back', async () => {
      const isolation = isolationWith({ concurrency: 2, errorPercent: 50, minRequests: 2, openMs: 300 });
      expect(await send(isolation, 'a.example', 500)).toEqual({ ran: true, value: 500 }); // below the volume; a fast host
      const failing = pending(500);
      const succeeding = pending(200);
      const running = [isolation.run('a.example', failing.action, failed), isolation.run('a.example', succeeding.action, failed)];
      const waiter = pending(200);
      const waiting = isolation.run('a.example', waiter.action, failed);
      await settle();
      expect(waiter.started).toBe(false);
      failing.finish(); // two failures of three: the circuit opens, and the freed slot goes to the waiter
      expect(await running[0]).toEqual({ ran: true, value: 500 });
      expect(await waiting).toEqual({ ran: false, reason: 'held: host a.example circuit open', delayMs: 315 }); // 300 ms × 1.05
      expect(waiter.started).toBe(false);
      succeeding.finish();
      await running[1];
      jest.advanceTimersByTime(300);
      expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 }); // the probe closes it
      await settle();
      const next = [pending(200), pending(200)];
      const nextRunning = next.map((request) => isolation.run('a.example', request.action, failed));
      await settle();
      expect(next.map((request) => request.started)).toEqual([true, true]);
      next.forEach((request) => request.finish());
      await Promise.all(nextRunning);
    });
  });

  describe('half-open and closing', () => {
    it('half-opens exactly the open time after it opened, and reports every change of state', async () => {
      const isolation = isolationWith({ openMs: 300 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      expect(changes).toEqual([['a.example', 'open']]);
      jest.advanceTimersByTime(299);
      expect(isolation.stateOf('a.example')).toBe('open');
      jest.advanceTimersByTime(1);
      expect(isolation.stateOf('a.example')).toBe('half-open');
      expect(isolation.circuits()).toEqual([{ host: 'a.example', state: 'half-open' }]);
      expect(changes).toEqual([
        ['a.example', 'open'],
        ['a.example', 'half-open'],
      ]);
      expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
      expect(changes).toEqual([
        ['a.example', 'open'],
        ['a.example', 'half-open'],
        ['a.example', 'closed'],
      ]);
      expect(isolation.circuits()).toEqual([]);
    });

    it('holds work that meets the probe in flight for between 1 and 1.5 times the probe time', async () => {
      const isolation = isolationWith({ openMs: 300, probeMs: 2000 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      jest.advanceTimersByTime(300);
      const probe = pending(200);
      const probing = isolation.run('a.example', probe.action, failed);
      await settle();
      expect(probe.started).toBe(true);
      random = 0;
      expect((await held(isolation, 'a.example')).delayMs).toBe(2000);
      random = 1;
      expect(await held(isolation, 'a.example')).toEqual({
        ran: false,
        reason: 'held: host a.example circuit half-open, a probe is deciding',
        delayMs: 3000,
      });
      probe.finish();
      expect(await probing).toEqual({ ran: true, value: 200 });
      expect(isolation.stateOf('a.example')).toBe('closed');
    });

    it('opens again for a whole open time after a failed probe', async () => {
      const isolation = isolationWith({ openMs: 300 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      jest.advanceTimersByTime(300);
      const probe = pending(503);
      const probing = isolation.run('a.example', probe.action, failed);
      await settle();
      expect(probe.started).toBe(true);
      jest.advanceTimersByTime(250); // the probe takes a while
      probe.finish();
      expect(await probing).toEqual({ ran: true, value: 503 });
      expect(changes.map(([, state]) => state)).toEqual(['open', 'half-open', 'open']);
      random = 0;
      expect((await held(isolation, 'a.example')).delayMs).toBe(300); // counted from the failed probe, not the first opening
      jest.advanceTimersByTime(299);
      expect(isolation.stateOf('a.example')).toBe('open');
      jest.advanceTimersByTime(1);
      expect(isolation.stateOf('a.example')).toBe('half-open');
    });

    it('after a successful probe, successes keep it closed and only a fresh run of failures opens it', async () => {
      const isolation = isolationWith({ openMs: 300, errorPercent: 50, minRequests: 4 });
      for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
      jest.advanceTimersByTime(300);
      expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
      await settle();
      for (let i = 0; i < 3; i++) expect(await send(isolation, 'a.example', 500)).toEqual({ ran: true, value: 500 });
      expect(isolation.stateOf('a.example')).toBe('closed'); // three requests: below the volume of the fresh window
      for (let i = 0; i < 5; i++) await send(isolation, 'a.example', 200);
      await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('closed'); // 4 failures of 9
      await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('closed'); // 5 of 10: not more than half
      await send(isolation, 'a.example', 500);
      expect(isolation.stateOf('a.example')).toBe('open'); // 6 of 11
    });
  });
});
