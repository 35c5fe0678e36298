import { DEFAULT_RETRY_SCHEDULE, parseRetryAfter, parseRetrySchedule, retryDelayMs } from './retry-schedule.js';

describe('parseRetrySchedule', () => {
  it('parses the default schedule: 9 attempts, the first immediate', () => {
    expect(parseRetrySchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([
      0, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000,
    ]);
  });

  it('supports ms, s, m, h, bare seconds, decimals and surrounding spaces', () => {
    expect(parseRetrySchedule(' 250ms , 2 ,1.5s, 0.5m,1h,0ms ')).toEqual([250, 2_000, 1_500, 30_000, 3_600_000, 0]);
  });

  it('accepts a single entry', () => {
    expect(parseRetrySchedule('0')).toEqual([0]);
  });

  it.each(['', '   ', '5s,,10s', '5s,', 'abc', '5 s', '-5s', '5d', '5S', '1e3', '.5s', '5s;10s'])('rejects %j', (text) => {
    expect(() => parseRetrySchedule(text)).toThrow(/retry schedule/);
  });

  it('says which entry is wrong', () => {
    expect(() => parseRetrySchedule('0,5s,10x')).toThrow('retry schedule entry 3 ("10x") is not a duration');
  });

  it('rejects durations beyond safe integers', () => {
    expect(() => parseRetrySchedule('99999999999999999999h')).toThrow(/too large/);
  });
});

describe('retryDelayMs', () => {
  const schedule = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
  const mid = () => 0.5;

  it('gives the scheduled delay after each failed attempt, null once 9 attempts are used', () => {
    expect(retryDelayMs(schedule, 1, mid)).toBe(5_000);
    expect(retryDelayMs(schedule, 2, mid)).toBe(30_000);
    expect(retryDelayMs(schedule, 8, mid)).toBe(21_600_000);
    expect(retryDelayMs(schedule, 9, mid)).toBeNull();
    expect(retryDelayMs(schedule, 50, mid)).toBeNull();
  });

  it('applies ±20% jitter', () => {
    expect(retryDelayMs(schedule, 1, () => 0)).toBe(4_000);
    expect(retryDelayMs(schedule, 1, () => 0.999999999)).toBe(6_000);
    expect(retryDelayMs(schedule, 3, () => 0.25)).toBe(108_000);
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(schedule, 1)!;
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(6_000);
    }
  });

  it('keeps 0 at 0 and never goes negative', () => {
    expect(retryDelayMs([0, 0, 1], 1, () => 0.9)).toBe(0);
    expect(retryDelayMs([0, 1000], 1, () => -10)).toBe(0);
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(retryDelayMs([0, 7], 1, () => 0.123))).toBe(true);
  });

  it('rejects attemptsMade below 1 or fractional', () => {
    expect(() => retryDelayMs(schedule, 0)).toThrow(RangeError);
    expect(() => retryDelayMs(schedule, 1.5)).toThrow(RangeError);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-01-15T12:00:00Z');
  const bounds = { minMs: 1_000, maxMs: 3_600_000 };

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now, bounds)).toBe(120_000);
    expect(parseRetryAfter(' 30 ', now, bounds)).toBe(30_000);
  });

  it('reads all three HTTP-date forms relative to now', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 12:05:00 GMT', now, bounds)).toBe(300_000);
    expect(parseRetryAfter('Wednesday, 15-Jan-25 12:01:00 GMT', now, bounds)).toBe(60_000);
    expect(parseRetryAfter('Wed Jan 15 12:02:00 2025', now, bounds)).toBe(120_000);
    expect(parseRetryAfter('Wed Jan  5 12:00:00 2025', new Date('2025-01-05T11:59:00Z'), bounds)).toBe(60_000);
  });

  it('clamps to the bounds', () => {
    expect(parseRetryAfter('0', now, bounds)).toBe(1_000);
    expect(parseRetryAfter('86400', now, bounds)).toBe(3_600_000);
    expect(parseRetryAfter('Wed, 15 Jan 2025 11:00:00 GMT', now, bounds)).toBe(1_000); // in the past
    expect(parseRetryAfter('Thu, 16 Jan 2025 12:00:00 GMT', now, bounds)).toBe(3_600_000);
  });

  it.each([
    undefined,
    '',
    '  ',
    '-5',
    '1.5',
    '10s',
    'soon',
    '2025-01-15T12:05:00Z',
    'Wed, 15 Jan 2025 12:05:00',
    'Wed, 32 Jan 2025 12:05:00 GMT',
  ])('returns null for %j', (header) => {
    expect(parseRetryAfter(header, now, bounds)).toBeNull();
  });
});
