import { circuitState, hold, type HoldOptions } from './host-policy.js';

const options: HoldOptions = { concurrency: 2, openMs: 300, probeMs: 1000 };
const now = 1_000_000;

describe('how long a request that may not start is held', () => {
  it('holds work while the circuit is open until it half-opens, plus a spread of up to the open time', () => {
    const open = { kind: 'open', openUntil: now + 200 } as const;
    expect(hold('a.example', open, now, options, 0)).toEqual({ reason: 'held: host a.example circuit open', delayMs: 200 });
    expect(hold('a.example', open, now, options, 0.5).delayMs).toBe(350);
    expect(hold('a.example', open, now, options, 1).delayMs).toBe(500);
  });

  it('spreads work held by a long open circuit over at most 5 s', () => {
    const open = { kind: 'open', openUntil: now + 60_000 } as const;
    expect(hold('a.example', open, now, { ...options, openMs: 60_000 }, 1).delayMs).toBe(65_000);
  });

  it('never gives a held request a delay under 1 ms, even when the circuit half-opened a moment ago', () => {
    expect(hold('a.example', { kind: 'open', openUntil: now - 5 }, now, options, 0).delayMs).toBe(1);
  });

  it('holds work that meets the probe in flight for between 1 and 1.5 times the probe time', () => {
    expect(hold('a.example', { kind: 'probing' }, now, options, 0)).toEqual({
      reason: 'held: host a.example circuit half-open, a probe is deciding',
      delayMs: 1000,
    });
    expect(hold('a.example', { kind: 'probing' }, now, options, 1).delayMs).toBe(1500);
  });

  it('holds work at the limit until its booked slot time, with ±10% jitter', () => {
    const full = { kind: 'full', bookedUntil: now + 100 } as const;
    expect(hold('a.example', full, now, options, 0.5)).toEqual({
      reason: 'held: host a.example at its limit of 2 concurrent requests',
      delayMs: 100,
    });
    expect(hold('a.example', full, now, options, 0).delayMs).toBe(90);
    expect(hold('a.example', full, now, options, 1).delayMs).toBe(110);
  });

  it('reads the circuit state off what the shared state said', () => {
    expect(circuitState({ kind: 'run' })).toBe('closed');
    expect(circuitState({ kind: 'full', bookedUntil: now })).toBe('closed');
    expect(circuitState({ kind: 'open', openUntil: now })).toBe('open');
    expect(circuitState({ kind: 'probe' })).toBe('half-open');
    expect(circuitState({ kind: 'probing' })).toBe('half-open');
  });
});
