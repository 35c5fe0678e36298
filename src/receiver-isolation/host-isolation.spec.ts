import { HostIsolation, type Admission } from './host-isolation.js';

const options = { concurrency: 2, errorPercent: 50, minRequests: 4, windowMs: 10_000, openMs: 300, probeMs: 1000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request that answers `status` when `finish` is called. */
function pending(status: number) {
  let finish!: () => void;
  const done = new Promise<number>((resolve) => {
    finish = () => resolve(status);
  });
  return { action: () => done, finish };
}
const failed = (status: number) => status >= 500;
const send = (isolation: HostIsolation, host: string, status: number) => isolation.run(host, () => Promise.resolve(status), failed);

describe('HostIsolation', () => {
  let isolation: HostIsolation;
  beforeEach(() => {
    isolation = new HostIsolation(options, () => 0.5);
  });
  afterEach(() => isolation.shutdown());

  it('lets at most `concurrency` requests run at once per host, and holds the next without running it', async () => {
    const first = pending(200);
    const second = pending(200);
    const running = [isolation.run('a.example', first.action, failed), isolation.run('a.example', second.action, failed)];
    let ran = false;
    const third = await isolation.run(
      'a.example',
      () => {
        ran = true;
        return Promise.resolve(200);
      },
      failed,
    );
    expect(ran).toBe(false);
    expect(third).toMatchObject({ ran: false, reason: 'held: host a.example at its limit of 2 concurrent requests' });
    // Another host is not affected.
    expect(await send(isolation, 'b.example', 200)).toEqual({ ran: true, value: 200 });
    first.finish();
    second.finish();
    expect(await Promise.all(running)).toEqual([
      { ran: true, value: 200 },
      { ran: true, value: 200 },
    ]);
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
  });

  it('lets work for a fast host wait in the process for a slot, and hands it the slot a finished request frees', async () => {
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 }); // the host answers at once
    const blockers = [pending(200), pending(200)];
    const running = blockers.map((blocker) => isolation.run('a.example', blocker.action, failed));
    let ran = false;
    const waiting = isolation.run(
      'a.example',
      () => {
        ran = true;
        return Promise.resolve(201);
      },
      failed,
    );
    await sleep(20);
    expect(ran).toBe(false);
    blockers[0].finish();
    expect(await waiting).toEqual({ ran: true, value: 201 });
    blockers[1].finish();
    await Promise.all(running);
  });

  it('does not let work wait for a host whose requests are still running after 250 ms', async () => {
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
    const blockers = [pending(200), pending(200)];
    const running = blockers.map((blocker) => isolation.run('a.example', blocker.action, failed));
    await sleep(300);
    expect(await send(isolation, 'a.example', 200)).toMatchObject({ ran: false });
    blockers.forEach((blocker) => blocker.finish());
    await Promise.all(running);
  });

  // The share of the host's latency each held request is booked is asserted on a fake clock in host-policy.spec.ts.

  it('opens the circuit after more than half of at least four requests failed; an open circuit holds without running', async () => {
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
    expect(await send(isolation, 'a.example', 500)).toEqual({ ran: true, value: 500 });
    expect(await send(isolation, 'a.example', 503)).toEqual({ ran: true, value: 503 });
    expect(isolation.stateOf('a.example')).toBe('closed'); // three requests: below the volume
    expect(await send(isolation, 'a.example', 502)).toEqual({ ran: true, value: 502 });
    expect(isolation.stateOf('a.example')).toBe('open');
    expect(isolation.circuits()).toEqual([{ host: 'a.example', state: 'open' }]);

    let ran = false;
    const held = (await isolation.run(
      'a.example',
      () => {
        ran = true;
        return Promise.resolve(200);
      },
      failed,
    )) as Extract<Admission<number>, { ran: false }>;
    expect(ran).toBe(false);
    expect(held.reason).toBe('held: host a.example circuit open');
    // Until the circuit half-opens (300 ms), plus a spread so the held work does not return all at once.
    expect(held.delayMs).toBeGreaterThan(250);
    expect(held.delayMs).toBeLessThanOrEqual(450);
    expect(await send(isolation, 'b.example', 500)).toEqual({ ran: true, value: 500 });
    expect(isolation.stateOf('b.example')).toBe('closed');
  });

  it('does not count 4xx answers against the host', async () => {
    for (let i = 0; i < 6; i++) await send(isolation, 'a.example', 404);
    expect(isolation.stateOf('a.example')).toBe('closed');
  });

  it('lets exactly one probe through when the circuit half-opens; a failed probe opens it again', async () => {
    for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
    await sleep(350);
    expect(isolation.stateOf('a.example')).toBe('half-open');
    const probe = pending(500);
    const probing = isolation.run('a.example', probe.action, failed);
    const besides = await send(isolation, 'a.example', 200);
    // Held about as long as the probe can take (1 s here, plus up to half of it), so it returns once the probe decided.
    expect(besides).toEqual({ ran: false, reason: 'held: host a.example circuit half-open, a probe is deciding', delayMs: 1250 });
    probe.finish();
    expect(await probing).toEqual({ ran: true, value: 500 });
    expect(isolation.stateOf('a.example')).toBe('open');
  });

  it('closes the circuit when the probe succeeds, and then needs a fresh run of failures to open again', async () => {
    for (let i = 0; i < 4; i++) await send(isolation, 'a.example', 500);
    await sleep(350);
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
    expect(isolation.stateOf('a.example')).toBe('closed');
    await sleep(0);
    // The failures before the circuit opened no longer count: one new failure does not open it.
    expect(await send(isolation, 'a.example', 500)).toEqual({ ran: true, value: 500 });
    expect(isolation.stateOf('a.example')).toBe('closed');
    expect(await send(isolation, 'a.example', 200)).toEqual({ ran: true, value: 200 });
  });
});
