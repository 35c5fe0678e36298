import type { Logger } from '@nestjs/common';

const FIRST_GAP_MS = 1000;
const LONGEST_GAP_MS = 60_000;

/**
 * A warning that may repeat in a tight loop (a Redis error on every retry), logged with backoff: a kind of message
 * (its digits aside) at once, then again after 1 s, 2 s, 4 s … up to a minute while it keeps coming, with the count
 * of those held back; after a quiet minute it starts over.
 */
export function throttledLog(logger: Logger): (message: string) => void {
  const kinds = new Map<string, { nextAt: number; gapMs: number; held: number }>();
  return (message) => {
    const now = Date.now();
    const kind = message.replace(/\d+/g, '#');
    const seen = kinds.get(kind);
    if (seen && now < seen.nextAt) {
      seen.held++;
      return;
    }
    const fresh = !seen || now - seen.nextAt > LONGEST_GAP_MS;
    logger.warn(seen?.held ? `${message} (and ${seen.held} more like it)` : message);
    const gapMs = fresh ? FIRST_GAP_MS : Math.min(seen.gapMs * 2, LONGEST_GAP_MS);
    if (kinds.size > 100 && !seen) kinds.clear();
    kinds.set(kind, { nextAt: now + gapMs, gapMs, held: 0 });
  };
}
