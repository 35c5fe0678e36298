import { jest } from '@jest/globals';
import type { SendResult } from '../webhook-sender/webhook-sender.service.js';
import { hostOf } from '../delivery-queue/delivery-job.js';
import { failedHost, judgeAttempt, type AttemptOutcome, type RetryPolicy } from './attempt-outcome.js';

/** A delay before each attempt: the first at once, then 1 s, 10 s and 100 s (3 retries). */
const policy: RetryPolicy = { retryScheduleMs: [0, 1000, 10_000, 100_000], retryAfterMaxMs: 600_000 };
const now = new Date('2030-01-01T00:00:00.000Z');

const answered = (statusCode: number, retryAfter?: string): SendResult => ({
  statusCode,
  error: null,
  retryAfter,
  responseSnippet: null,
  durationMs: 12,
});
const broken = (error: string): SendResult => ({ statusCode: null, error, retryAfter: undefined, responseSnippet: null, durationMs: 12 });

/** retryDelayMs jitters the scheduled delay by ±20% (rounded): the bounds the code guarantees. */
function expectScheduled(outcome: AttemptOutcome, baseMs: number, reason: string): void {
  expect(outcome).toMatchObject({ kind: 'retry', reason });
  const { delayMs } = outcome as Extract<AttemptOutcome, { kind: 'retry' }>;
  expect(delayMs).toBeGreaterThanOrEqual(Math.round(baseMs * 0.8));
  expect(delayMs).toBeLessThanOrEqual(Math.round(baseMs * 1.2));
}

describe('judgeAttempt', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([200, 201, 202, 204, 299])('succeeds on %i, whatever the attempt', (status) => {
    expect(judgeAttempt(answered(status), 1, now, policy)).toEqual({ kind: 'succeeded' });
    // Even past the end of the schedule, and with a Retry-After.
    expect(judgeAttempt(answered(status, '60'), 99, now, policy)).toEqual({ kind: 'succeeded' });
  });

  it.each([199, 300])('does not succeed on %i', (status) => {
    expectScheduled(judgeAttempt(answered(status), 1, now, policy), 1000, `HTTP ${status}`);
  });

  it('is dead at once on 410 Gone, with retries left and whatever its Retry-After', () => {
    const dead = { kind: 'dead', reason: 'HTTP 410 Gone: the receiver asked for no more retries' };
    expect(judgeAttempt(answered(410), 1, now, policy)).toEqual(dead);
    expect(judgeAttempt(answered(410, '5'), 2, now, policy)).toEqual(dead);
    expect(judgeAttempt(answered(410), 99, now, policy)).toEqual(dead);
  });

  it.each([500, 502, 503, 504, 404, 301])('retries %i on the schedule', (status) => {
    expectScheduled(judgeAttempt(answered(status), 1, now, policy), 1000, `HTTP ${status}`);
  });

  it('retries a timeout or a connection error on the schedule, with the error as the reason', () => {
    expectScheduled(judgeAttempt(broken('timeout'), 1, now, policy), 1000, 'timeout');
    expectScheduled(judgeAttempt(broken('connection_failed: refused'), 2, now, policy), 10_000, 'connection_failed: refused');
  });

  it('takes the delay of schedule entry `attemptsInRound` (the one after the attempts made)', () => {
    for (let run = 0; run < 50; run++) {
      expectScheduled(judgeAttempt(answered(500), 1, now, policy), 1000, 'HTTP 500');
      expectScheduled(judgeAttempt(answered(500), 2, now, policy), 10_000, 'HTTP 500');
      expectScheduled(judgeAttempt(answered(500), 3, now, policy), 100_000, 'HTTP 500');
    }
  });

  it('jitters the scheduled delay by at most ±20%', () => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    expect(judgeAttempt(answered(500), 2, now, policy)).toEqual({ kind: 'retry', delayMs: 8000, reason: 'HTTP 500' });
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(judgeAttempt(answered(500), 2, now, policy)).toEqual({ kind: 'retry', delayMs: 10_000, reason: 'HTTP 500' });
    jest.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(judgeAttempt(answered(500), 2, now, policy)).toEqual({ kind: 'retry', delayMs: 12_000, reason: 'HTTP 500' });
  });

  it('is dead with "no retries left" once the schedule is exhausted', () => {
    expect(judgeAttempt(answered(500), 4, now, policy)).toEqual({ kind: 'dead', reason: 'HTTP 500; no retries left' });
    expect(judgeAttempt(broken('timeout'), 4, now, policy)).toEqual({ kind: 'dead', reason: 'timeout; no retries left' });
    expect(judgeAttempt(answered(404), 7, now, policy)).toEqual({ kind: 'dead', reason: 'HTTP 404; no retries left' });
    // A one-entry schedule (the first attempt only) allows no retry at all.
    expect(judgeAttempt(answered(500), 1, now, { ...policy, retryScheduleMs: [0] })).toEqual({
      kind: 'dead',
      reason: 'HTTP 500; no retries left',
    });
  });

  it('does not let a Retry-After outlive the schedule', () => {
    expect(judgeAttempt(answered(429, '1'), 4, now, policy)).toEqual({ kind: 'dead', reason: 'HTTP 429; no retries left' });
    expect(judgeAttempt(answered(503, '1'), 4, now, policy)).toEqual({ kind: 'dead', reason: 'HTTP 503; no retries left' });
  });

  it.each([429, 503])('honours Retry-After in seconds on %i', (status) => {
    expect(judgeAttempt(answered(status, '120'), 1, now, policy)).toEqual({ kind: 'retry', delayMs: 120_000, reason: `HTTP ${status}` });
    expect(judgeAttempt(answered(status, ' 7 '), 3, now, policy)).toEqual({ kind: 'retry', delayMs: 7000, reason: `HTTP ${status}` });
  });

  it.each([429, 503])('honours Retry-After as an HTTP date on %i, measured from the attempt', (status) => {
    const inTwoMinutes = new Date(now.getTime() + 120_000).toUTCString(); // IMF-fixdate: "Tue, 01 Jan 2030 00:02:00 GMT"
    expect(inTwoMinutes).toBe('Tue, 01 Jan 2030 00:02:00 GMT');
    expect(judgeAttempt(answered(status, inTwoMinutes), 1, now, policy)).toEqual({
      kind: 'retry',
      delayMs: 120_000,
      reason: `HTTP ${status}`,
    });
    const later = new Date(now.getTime() + 30_000);
    expect(judgeAttempt(answered(status, inTwoMinutes), 1, later, policy)).toMatchObject({ delayMs: 90_000 });
  });

  it('retries at once on a Retry-After date already past', () => {
    const past = new Date(now.getTime() - 60_000).toUTCString();
    expect(judgeAttempt(answered(503, past), 1, now, policy)).toEqual({ kind: 'retry', delayMs: 0, reason: 'HTTP 503' });
    expect(judgeAttempt(answered(429, '0'), 1, now, policy)).toEqual({ kind: 'retry', delayMs: 0, reason: 'HTTP 429' });
  });

  it.each([429, 503])('caps Retry-After at retryAfterMaxMs on %i', (status) => {
    expect(judgeAttempt(answered(status, '86400'), 1, now, policy)).toMatchObject({ kind: 'retry', delayMs: 600_000 });
    const nextYear = new Date(now.getTime() + 365 * 86_400_000).toUTCString();
    expect(judgeAttempt(answered(status, nextYear), 1, now, policy)).toMatchObject({ kind: 'retry', delayMs: 600_000 });
    expect(judgeAttempt(answered(status, '86400'), 1, now, { ...policy, retryAfterMaxMs: 5000 })).toMatchObject({ delayMs: 5000 });
  });

  it('falls back to the schedule when Retry-After is missing or malformed', () => {
    expectScheduled(judgeAttempt(answered(429), 1, now, policy), 1000, 'HTTP 429');
    expectScheduled(judgeAttempt(answered(503, 'soon'), 2, now, policy), 10_000, 'HTTP 503');
    expectScheduled(judgeAttempt(answered(429, '1.5'), 1, now, policy), 1000, 'HTTP 429');
    expectScheduled(judgeAttempt(answered(429, '2030-01-01T00:02:00Z'), 1, now, policy), 1000, 'HTTP 429');
  });

  it.each([500, 502, 504, 408, 400, 301])('ignores Retry-After on %i', (status) => {
    // 300 s asked for: the schedule's 1 s (±20%) is used instead.
    expectScheduled(judgeAttempt(answered(status, '300'), 1, now, policy), 1000, `HTTP ${status}`);
  });

  it('counts attempts from the last manual retry: a delivery retried by hand gets the whole schedule again', () => {
    // The worker passes attemptNumber - attempts_before_retry. A dead delivery had 4 attempts (the schedule's length).
    const attemptsBeforeRetry = 4;
    expect(judgeAttempt(answered(500), 4, now, policy)).toMatchObject({ kind: 'dead' });
    const inRound = (attemptNumber: number) => attemptNumber - attemptsBeforeRetry;
    expectScheduled(judgeAttempt(answered(500), inRound(5), now, policy), 1000, 'HTTP 500');
    expectScheduled(judgeAttempt(answered(500), inRound(6), now, policy), 10_000, 'HTTP 500');
    expectScheduled(judgeAttempt(answered(500), inRound(7), now, policy), 100_000, 'HTTP 500');
    expect(judgeAttempt(answered(500), inRound(8), now, policy)).toEqual({ kind: 'dead', reason: 'HTTP 500; no retries left' });
  });

  it('refuses an attemptsInRound below 1 (a caller counting wrong) rather than guessing', () => {
    expect(() => judgeAttempt(answered(500), 0, now, policy)).toThrow(RangeError);
  });
});

describe('failedHost', () => {
  it.each([500, 502, 503, 504, 599])('counts %i against the host', (status) => {
    expect(failedHost(answered(status))).toBe(true);
  });

  it.each([400, 404, 408, 410, 429, 499, 300, 301, 302, 308, 200, 204])('does not count %i against the host', (status) => {
    expect(failedHost(answered(status))).toBe(false);
  });

  it.each(['timeout: no complete answer within 10000 ms', 'connection_failed: no answer could be read from the receiver'])(
    'counts the connection error %s against the host',
    (error) => {
      expect(failedHost(broken(error))).toBe(true);
    },
  );

  it('does not count a refused target against the host (no request was made)', () => {
    expect(failedHost(broken('target_not_allowed: the target is a private or loopback address'))).toBe(false);
    expect(failedHost(broken('target_not_allowed'))).toBe(false);
    // Only a reason starting with it is a refusal.
    expect(failedHost(broken('proxy said target_not_allowed'))).toBe(true);
  });
});

describe('hostOf', () => {
  it('is the host name, without scheme, port, path, query or credentials', () => {
    expect(hostOf('https://hooks.example.com/agent-events?x=1#y')).toBe('hooks.example.com');
    expect(hostOf('http://hooks.example.com:8080/a')).toBe('hooks.example.com');
    expect(hostOf('https://user:secret@hooks.example.com:8443/')).toBe('hooks.example.com');
    expect(hostOf('http://203.0.113.7:9000/hook')).toBe('203.0.113.7');
  });

  it('puts every port of a host under one name, and lower-cases it', () => {
    expect(hostOf('http://Hooks.Example.COM:81/')).toBe(hostOf('https://hooks.example.com:443/other'));
    expect(hostOf('http://Hooks.Example.COM:81/')).toBe('hooks.example.com');
  });

  it('keeps distinct hosts apart', () => {
    expect(hostOf('https://a.example.com/')).not.toBe(hostOf('https://b.example.com/'));
  });

  it.each(['', 'not a url', '//no-scheme.example.com/', 'http://', 'http://exa mple.com/'])('is empty for the invalid URL %j', (url) => {
    expect(hostOf(url)).toBe('');
  });
});
