/** Delay before each attempt: the first at once, then 8 retries spread over ~10.7 hours. */
export const DEFAULT_RETRY_SCHEDULE = '0,5s,30s,2m,10m,30m,1h,3h,6h';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;

/**
 * Parses a comma-separated list of durations (`500ms`, `5s`, `2m`, `1h`; a bare number is seconds)
 * into milliseconds. Entry i is the delay before attempt i+1, so the length is the attempt budget.
 */
export function parseRetrySchedule(text: string): number[] {
  if (text.trim() === '') throw new Error('retry schedule is empty');
  return text.split(',').map((raw, index) => {
    const entry = raw.trim();
    const match = DURATION.exec(entry);
    if (!match) {
      throw new Error(`retry schedule entry ${index + 1} ("${entry}") is not a duration like 0, 500ms, 5s, 2m or 1h`);
    }
    const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 's']);
    if (!Number.isSafeInteger(ms)) throw new Error(`retry schedule entry ${index + 1} ("${entry}") is too large`);
    return ms;
  });
}

/**
 * Delay before the next attempt once `attemptsMade` (>= 1) attempts have failed, or null when the
 * schedule is exhausted. ±20% jitter keeps many failing deliveries from retrying in lockstep.
 */
export function retryDelayMs(schedule: number[], attemptsMade: number, random: () => number = Math.random): number | null {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError(`attemptsMade must be an integer >= 1, got ${attemptsMade}`);
  }
  const base = schedule[attemptsMade];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (0.8 + 0.4 * random())));
}

export interface DelayBounds {
  minMs: number;
  maxMs: number;
}

// RFC 9110 §5.6.7 HTTP-date: IMF-fixdate, obsolete RFC 850 and asctime forms.
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Milliseconds to wait per a `Retry-After` header (delay-seconds or HTTP-date), clamped to
 * bounds so a receiver can neither make us hammer it nor park a delivery for days.
 * Null when the header is absent or malformed.
 */
export function parseRetryAfter(header: string | undefined, now: Date, bounds: DelayBounds): number | null {
  if (header === undefined) return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else if (IMF_FIXDATE.test(value) || RFC850_DATE.test(value)) {
    ms = Date.parse(value) - now.getTime();
  } else if (ASCTIME_DATE.test(value)) {
    // asctime carries no zone; HTTP defines it as GMT, Date.parse would use local time.
    ms = Date.parse(`${value} GMT`) - now.getTime();
  } else {
    return null;
  }
  if (Number.isNaN(ms)) return null;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, ms));
}
