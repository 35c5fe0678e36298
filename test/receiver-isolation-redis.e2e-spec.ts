import { Redis } from 'ioredis';
import { failedHost } from '../src/delivery-worker/attempt-outcome.js';
import { HostIsolation, type CircuitState, type HostIsolationOptions } from '../src/receiver-isolation/host-isolation.js';
import type { SendResult } from '../src/webhook-sender/webhook-sender.service.js';
import { eventually } from './support/receiver.js';
import { deleteQueueKeys, suiteResources } from './support/test-app.js';

/**
 * The per-host slots and circuit of HostIsolation as two worker processes share them: two instances, each with its own
 * connection, on one Redis and one key prefix, on a clock the test moves (every delay is exact).
 */

const base: HostIsolationOptions = { concurrency: 2, errorPercent: 50, minRequests: 4, windowMs: 10_000, openMs: 300, probeMs: 1000 };
const failed = (status: number) => status >= 500;

/** Either the request ran (and here is what it returned), or it did not start and should be tried again later. */
type Admission<T> = { ran: true; value: T } | { ran: false; reason: string; delayMs: number };

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

describe('receiver isolation shared by the workers through Redis', () => {
  const { queuePrefix, redisUrl } = suiteResources('isolation-redis');
  const connections: Redis[] = [];
  const isolations: HostIsolation[] = [];
  let now = 1_000_000;
  let random = 0.5;
  let hosts = 0;
  let host: string;
  let changes: [string, CircuitState][];

  /**
   * A request to `host` the way the worker makes one: a slot, the request, then the slot done with the outcome (a throw
   * counts against the host and is passed on).
   */
  async function run<T>(
    isolation: HostIsolation,
    host: string,
    action: () => Promise<T>,
    failed: (value: T) => boolean,
  ): Promise<Admission<T>> {
    const slot = await isolation.admit(host);
    if (!slot.admitted) return { ran: false, reason: slot.reason, delayMs: slot.delayMs };
    const startedAt = now;
    let hostFailed = true;
    try {
      const value = await action();
      hostFailed = failed(value);
      return { ran: true, value };
    } finally {
      slot.done(hostFailed, now - startedAt);
    }
  }

  /** Two workers' isolations on the suite's prefix, each on a connection of its own. */
  const workers = (overrides: Partial<HostIsolationOptions> = {}) =>
    [1, 2].map(() => {
      const redis = new Redis(redisUrl);
      connections.push(redis);
      const options = { ...base, ...overrides, onStateChange: (name: string, state: CircuitState) => changes.push([name, state]) };
      const isolation = new HostIsolation(
        redis,
        queuePrefix,
        options,
        () => now,
        () => random,
      );
      isolations.push(isolation);
      return isolation;
    });
  /**
   * Waits until every slot given back is free in Redis (a release is sent, not awaited), every connection has carried
   * out what was sent on it, and what follows the replies has run (the promises they settle, before the next turn of
   * the event loop).
   */
  const flushed = async () => {
    await Promise.all(isolations.map((isolation) => isolation.settled()));
    await Promise.all(connections.map((redis) => redis.ping()));
    await new Promise((resolve) => setImmediate(resolve));
  };
  const send = async (isolation: HostIsolation, status: number, name = host) => {
    const admission = await run(isolation, name, () => Promise.resolve(status), failed);
    await flushed();
    return admission;
  };
  /** Runs a request that must not start, and returns how it was held. */
  const held = async (isolation: HostIsolation, name = host) => {
    const request = pending(200);
    const admission = await run(isolation, name, request.action, failed);
    expect(request.started).toBe(false);
    expect(admission.ran).toBe(false);
    return admission as Extract<Admission<number>, { ran: false }>;
  };

  beforeEach(() => {
    host = `h${++hosts}.example`;
    random = 0.5;
    changes = [];
  });
  afterAll(async () => {
    await deleteQueueKeys(connections[0], queuePrefix);
    for (const redis of connections) redis.disconnect();
  });

  describe('slots', () => {
    it('lets at most `concurrency` requests run at once across both workers, and frees a slot for either when one ends', async () => {
      const [a, b] = workers();
      const first = pending(200);
      const second = pending(200);
      const running = [run(a, host, first.action, failed), run(b, host, second.action, failed)];
      await flushed();
      expect([first.started, second.started]).toEqual([true, true]);
      expect((await held(a)).reason).toBe(`held: host ${host} at its limit of 2 concurrent requests`);
      expect((await held(b)).reason).toBe(`held: host ${host} at its limit of 2 concurrent requests`);
      // Another host is not affected.
      expect(await send(b, 200, `other-${host}`)).toEqual({ ran: true, value: 200 });
      first.finish(); // a's request ends: b gets its slot
      expect(await running[0]).toEqual({ ran: true, value: 200 });
      await flushed();
      const third = pending(200);
      const thirdRunning = run(b, host, third.action, failed);
      await flushed();
      expect(third.started).toBe(true);
      await held(a);
      second.finish();
      third.finish();
      await Promise.all([running[1], thirdRunning]);
    });

    it('admits exactly `concurrency` of many requests asked at the same moment by both workers, the rest held', async () => {
      const [a, b] = workers({ concurrency: 3 });
      const slots = await Promise.all(Array.from({ length: 20 }, (_, n) => (n % 2 ? a : b).admit(host)));
      expect(slots.filter((slot) => slot.admitted)).toHaveLength(3);
      for (const slot of slots) if (!slot.admitted) expect(slot.reason).toBe(`held: host ${host} at its limit of 3 concurrent requests`);
      for (const slot of slots) if (slot.admitted) slot.done(false, 10);
      await flushed();
      expect(await send(a, 200)).toEqual({ ran: true, value: 200 });
    });

    it('counts a slot given back before a request asked for after it, without waiting for the give-back', async () => {
      const [a] = workers({ concurrency: 1 });
      for (let n = 0; n < 20; n++) {
        const slot = await a.admit(host);
        expect(slot.admitted).toBe(true);
        if (slot.admitted) slot.done(false, 10); // not awaited: the next ask follows it on the same connection
      }
    });

    it('frees the slot of a worker that died mid-request once the request timeout plus 5 s have passed', async () => {
      const [a, b] = workers({ concurrency: 1 });
      const hung = pending(200); // never finishes: the worker died with its lease
      void run(a, host, hung.action, failed);
      await flushed();
      now += 5999; // probeMs 1000 + 5000
      await held(b);
      now += 1;
      expect(await send(b, 200)).toEqual({ ran: true, value: 200 });
    });

    it("books each held request the host's latency after the one before, counting a running request as at least as slow", async () => {
      const [a, b] = workers({ concurrency: 1, openMs: 10_000 });
      const blocker = pending(200);
      const running = run(a, host, blocker.action, failed);
      await flushed();
      expect((await held(a)).delayMs).toBe(50); // the assumed 50 ms before any request finished
      expect((await held(b)).delayMs).toBe(100); // booked after the first
      random = 0;
      expect((await held(a)).delayMs).toBe(135); // booked until 150 ms, × 0.9
      now += 1000; // the blocker has run 1 s: the booking starts again from now, at 1 s per request
      random = 0.5;
      expect((await held(b)).delayMs).toBe(1000);
      blocker.finish();
      await running;
    });
  });

  describe("a slot kept for the same worker's next request to the host (KEEP_MS)", () => {
    const keyOf = (name: string) => `${queuePrefix}:host:${host}:${name}`;
    const leases = () => connections[0].zrange(keyOf('slots'), 0, -1);
    /** The requests and failures the window counted. */
    const counted = async () => {
      const window = await connections[0].hgetall(keyOf('window'));
      const sum = (field: string) => [...Array(10).keys()].reduce((total, i) => total + Number(window[`${field}${i}`] ?? 0), 0);
      return { requests: sum('n'), failures: sum('f') };
    };

    it('sends the next requests on the slot the last one used while the host is far from its limit, counted once it is given back', async () => {
      const [a, b] = workers({ concurrency: 8 });
      expect(await run(a, host, () => Promise.resolve(200), failed)).toEqual({ ran: true, value: 200 });
      // A round trip on a's connection after the request: nothing was given back before it.
      await a.admit(`other-${host}`);
      const [lease] = await leases();
      expect(await leases()).toEqual([lease]);
      for (let n = 0; n < 3; n++) expect(await run(a, host, () => Promise.resolve(200), failed)).toEqual({ ran: true, value: 200 });
      await a.admit(`other-${host}`);
      // The same lease all along: no slot asked for; the kept one still counts against the host's limit for b.
      expect(await leases()).toEqual([lease]);
      expect(await counted()).toEqual({ requests: 0, failures: 0 });
      const others = await Promise.all(Array.from({ length: 8 }, () => b.admit(host)));
      expect(others.filter((slot) => slot.admitted)).toHaveLength(7);
      for (const slot of others) if (slot.admitted) slot.cancel();
      // Given back (here before a shutdown; otherwise KEEP_MS after it was kept): its four requests are counted.
      await flushed();
      expect(await leases()).toEqual([]);
      expect(await counted()).toEqual({ requests: 4, failures: 0 });
    });

    it('gives a kept slot back by itself once KEEP_MS have passed without a request', async () => {
      const [a] = workers({ concurrency: 8 });
      await run(a, host, () => Promise.resolve(200), failed);
      await a.admit(`other-${host}`);
      expect(await leases()).toHaveLength(1);
      await eventually(async () => (await leases()).length === 0);
      expect(await counted()).toEqual({ requests: 1, failures: 0 });
    });

    it('keeps no slot of a host near its limit: the slot is free for the other worker as soon as the request ends', async () => {
      const [a, b] = workers({ concurrency: 4 });
      const other = pending(200);
      const running = run(a, host, other.action, failed);
      await flushed();
      // Two of four in use when it was given: more than a quarter.
      expect(await run(a, host, () => Promise.resolve(200), failed)).toEqual({ ran: true, value: 200 });
      await a.admit(`other-${host}`);
      expect(await leases()).toHaveLength(1);
      expect(await counted()).toEqual({ requests: 1, failures: 0 });
      other.finish();
      await running;
      await flushed();
      expect(await b.admit(host)).toMatchObject({ admitted: true });
    });

    it('counts the successes a kept slot carried before a failure, given back with it', async () => {
      // One failure alone would open it (100 % of 1 request); after three successes it is 25 %.
      const [a] = workers({ concurrency: 8, minRequests: 1, errorPercent: 50 });
      for (let n = 0; n < 3; n++) await run(a, host, () => Promise.resolve(200), failed);
      expect(await run(a, host, () => Promise.resolve(500), failed)).toEqual({ ran: true, value: 500 });
      await a.admit(`other-${host}`);
      expect(await leases()).toEqual([]);
      expect(await counted()).toEqual({ requests: 4, failures: 1 });
      expect(changes).toEqual([]);
    });

    it('keeps no slot of a host once the worker learns its circuit opened', async () => {
      const [a, b] = workers({ concurrency: 8, minRequests: 1, errorPercent: 50 });
      await run(a, host, () => Promise.resolve(200), failed);
      // b's failure opens it: a's success, on the slot a keeps, is not counted yet.
      await run(b, host, () => Promise.resolve(503), failed);
      await b.admit(`other-${host}`);
      expect(changes).toEqual([[host, 'open']]);
      // Within KEEP_MS of its last request, a's next one goes on the kept slot without asking; the one after it asks,
      // learns that the circuit is open, and is held; the kept slot is given back at the end of its request.
      const onKept = pending(200);
      const running = run(a, host, onKept.action, failed);
      await new Promise((resolve) => setImmediate(resolve));
      expect(onKept.started).toBe(true);
      expect((await held(a)).reason).toBe(`held: host ${host} circuit open`);
      onKept.finish();
      await running;
      await a.admit(`other-${host}`);
      expect(await leases()).toEqual([]);
      expect((await held(a)).reason).toBe(`held: host ${host} circuit open`);
    });
  });

  describe('a slot given back unused (the delivery loaded beside it is not to be sent now)', () => {
    it('frees the slot for either worker at once, and counts no outcome', async () => {
      const [a, b] = workers({ concurrency: 1 });
      const slot = await a.admit(host);
      expect(slot.admitted).toBe(true);
      await held(b);
      if (slot.admitted) slot.cancel();
      await flushed();
      expect(await send(b, 200)).toEqual({ ran: true, value: 200 });
      // Four admissions given back unused count as no failure: one success and two failures keep the circuit closed
      // (counted as failures, they would make 6 of 7 and open it).
      for (let n = 0; n < 4; n++) {
        const unused = await a.admit(host);
        if (unused.admitted) unused.cancel();
      }
      for (const isolation of [a, b]) await send(isolation, 500);
      expect(changes).toEqual([]);
    });

    it("gives a half-open host's probe turn to the next request", async () => {
      const [a, b] = workers();
      for (const isolation of [a, b, a, b]) await send(isolation, 500);
      now += 300;
      const probe = await a.admit(host);
      expect(probe.admitted).toBe(true);
      expect((await held(b)).reason).toBe(`held: host ${host} circuit half-open, a probe is deciding`);
      if (probe.admitted) probe.cancel();
      await flushed();
      expect(await send(b, 200)).toEqual({ ran: true, value: 200 }); // b probes, and closes it
      expect(changes.at(-1)).toEqual([host, 'closed']);
    });
  });

  describe('the circuit', () => {
    it('opens once for both workers on the failures they saw together, and both then hold until it half-opens', async () => {
      const [a, b] = workers();
      expect(await send(a, 500)).toEqual({ ran: true, value: 500 });
      expect(await send(b, 503)).toEqual({ ran: true, value: 503 });
      expect(await send(a, 200)).toEqual({ ran: true, value: 200 });
      expect(changes).toEqual([]); // three requests: below the volume
      expect(await send(b, 502)).toEqual({ ran: true, value: 502 }); // 3 of 4 failed
      expect(changes).toEqual([[host, 'open']]);
      random = 0;
      expect(await held(a)).toEqual({ ran: false, reason: `held: host ${host} circuit open`, delayMs: 300 });
      now += 100;
      expect((await held(b)).delayMs).toBe(200);
      expect(changes).toEqual([
        [host, 'open'],
        [host, 'open'], // b learns it from Redis
      ]);
      expect(await send(a, 500, `other-${host}`)).toEqual({ ran: true, value: 500 });
    });

    it('lets exactly one probe through across both workers; a failed probe opens it again for a whole open time', async () => {
      const [a, b] = workers();
      for (const isolation of [a, b, a, b]) await send(isolation, 500);
      now += 300;
      const probe = pending(503);
      const probing = run(a, host, probe.action, failed);
      await flushed();
      expect(probe.started).toBe(true);
      random = 1;
      expect(await held(b)).toEqual({ ran: false, reason: `held: host ${host} circuit half-open, a probe is deciding`, delayMs: 1500 });
      random = 0;
      expect((await held(a)).delayMs).toBe(1000);
      now += 250; // the probe takes a while
      probe.finish();
      expect(await probing).toEqual({ ran: true, value: 503 });
      await flushed();
      expect((await held(b)).delayMs).toBe(300); // counted from the failed probe, not the first opening
      now += 299;
      expect((await held(a)).reason).toBe(`held: host ${host} circuit open`);
      now += 1;
      expect(await send(b, 200)).toEqual({ ran: true, value: 200 }); // b's probe closes it
      expect(changes.filter(([name]) => name === host).map(([, state]) => state)).toEqual([
        'open', // b, whose failure opened it
        'half-open', // a, the probe
        'half-open', // b, held by the probe
        'open', // a, whose probe failed
        'open', // b, held by the open circuit
        'half-open', // b, the next probe
        'closed', // b, whose probe succeeded
      ]);
    });

    it('after a successful probe, only a fresh run of failures opens it again', async () => {
      const [a, b] = workers();
      for (const isolation of [a, b, a, b]) await send(isolation, 500);
      now += 300;
      expect(await send(a, 200)).toEqual({ ran: true, value: 200 });
      for (const isolation of [b, a, b]) expect(await send(isolation, 500)).toEqual({ ran: true, value: 500 });
      await send(a, 200);
      expect(await send(b, 200)).toEqual({ ran: true, value: 200 }); // 3 failures of 5 before: the window is fresh
      await send(a, 500); // 4 of 6
      expect((await held(b)).reason).toBe(`held: host ${host} circuit open`);
    });

    it.each([
      // errorPercent, minRequests, answers, whether the circuit is open after the last
      [50, 4, [200, 500, 200, 500], false], // 50% is not more than 50%
      [50, 4, [200, 500, 200, 500, 500], true],
      [25, 2, [200, 200, 200, 500], false],
      [50, 5, [500, 500, 500, 500], false], // 100%, but only 4 requests
      [80, 1, [500], true],
    ])('with errorPercent %i and minRequests %i, answers %j open the circuit: %s', async (errorPercent, minRequests, answers, open) => {
      const [a, b] = workers({ errorPercent, minRequests, concurrency: 10 });
      for (const [index, status] of answers.entries()) await send(index % 2 ? b : a, status);
      const next = await run(a, host, () => Promise.resolve(200), failed);
      expect(next.ran).toBe(!open);
    });

    it('forgets requests older than the window', async () => {
      const [a, b] = workers();
      for (const isolation of [a, b, a]) await send(isolation, 500);
      now += 10_000;
      await send(b, 500);
      expect(await send(a, 200)).toEqual({ ran: true, value: 200 }); // one failure in the window, not four
      expect(await send(a, 500)).toEqual({ ran: true, value: 500 });
      expect(await send(b, 500)).toEqual({ ran: true, value: 500 }); // 3 of 4
      await held(a);
    });

    it('counts 5xx answers, connection errors and throws against the host, not 4xx, redirects or refused targets', async () => {
      const [a, b] = workers({ minRequests: 2 });
      const result = (statusCode: number | null, error: string | null = null): SendResult => ({
        statusCode,
        error,
        retryAfter: undefined,
        responseSnippet: null,
        durationMs: 1,
      });
      const sendResult = async (isolation: HostIsolation, name: string, value: SendResult) => {
        const admission = await run(isolation, name, () => Promise.resolve(value), failedHost);
        await flushed();
        return admission;
      };
      for (const value of [result(404), result(429), result(301), result(null, 'target_not_allowed: private address')]) {
        for (const isolation of [a, b]) expect(await sendResult(isolation, host, value)).toEqual({ ran: true, value });
      }
      expect(await sendResult(a, host, result(200))).toMatchObject({ ran: true });
      await sendResult(a, `b-${host}`, result(null, 'timeout'));
      await sendResult(b, `b-${host}`, result(null, 'ECONNREFUSED'));
      await held(a, `b-${host}`);
      await sendResult(a, `c-${host}`, result(503));
      await expect(run(b, `c-${host}`, () => Promise.reject(new Error('boom')), failedHost)).rejects.toThrow('boom');
      await flushed();
      await held(b, `c-${host}`);
    });
  });

  it('limits each worker on its own, without a breaker, while Redis does not answer, and tries Redis again after 5 s', async () => {
    const away = new Redis({ port: 1, enableOfflineQueue: false, lazyConnect: true, maxRetriesPerRequest: 0 });
    away.on('error', () => undefined);
    const told: string[] = [];
    const isolation = new HostIsolation(
      away,
      queuePrefix,
      { ...base, concurrency: 1, onRedisAway: (error) => told.push(error.message) },
      () => now,
      () => random,
    );
    const blocker = pending(500);
    const running = run(isolation, host, blocker.action, failed);
    while (!blocker.started) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await held(isolation)).reason).toBe(`held: host ${host} at its limit of 1 concurrent requests`);
    blocker.finish();
    await running;
    for (let i = 0; i < 5; i++) expect(await run(isolation, host, () => Promise.resolve(500), failed)).toEqual({ ran: true, value: 500 });
    expect(told).toHaveLength(1);
    now += 5000;
    await run(isolation, host, () => Promise.resolve(200), failed);
    expect(told).toHaveLength(2);
    away.disconnect();
  });
});
