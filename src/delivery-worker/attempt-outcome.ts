import { parseRetryAfter, retryDelayMs } from '#webhook';
import type { SendResult } from '../webhook-sender/webhook-sender.service.js';

/** Why a delivery went back to the queue without an attempt: its receiver's host, or its agent's order. */
export type HeldBy = 'host' | 'order';

/** What an attempt leads to. Pure decisions, unit-tested in attempt-outcome.spec.ts. */
export type AttemptOutcome =
  /**
   * `newerChange`: its agent had a newer status change when the attempt was recorded, so a delivery of that change may
   * wait for this one (false: none can, and there is no one to wake).
   */
  | { kind: 'succeeded'; newerChange?: boolean }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'dead'; reason: string }
  /**
   * Not sent, no attempt used (`heldBy`): the receiver's host is at its limit or its circuit is open (`host`), or an
   * older delivery of its agent to its URL is pending (`order`; `waitingFor`: that one, when it is known to wake this).
   */
  | { kind: 'held'; heldBy: HeldBy; delayMs: number; reason: string; waitingFor?: string }
  /** Nothing to send: the delivery is gone, already delivered, or dead and not retried by hand. */
  | { kind: 'skipped' }
  /** Never to be sent: a newer change of its agent has gone to its URL (ordering.ts). */
  | { kind: 'superseded' };

export interface RetryPolicy {
  /** Delay before each retry, in ms (WEBHOOK_RETRY_SCHEDULE). */
  retryScheduleMs: number[];
  /** The most a receiver's Retry-After may delay a retry (WEBHOOK_RETRY_AFTER_MAX_MS). */
  retryAfterMaxMs: number;
}

/**
 * A 2xx succeeds; a 410 Gone is dead at once (the receiver asked for no more); anything else is retried on the
 * schedule, or after the receiver's Retry-After on a 429 or 503 (capped), until the schedule runs out: then dead.
 * `attemptsInRound` counts this attempt since the delivery's last manual retry.
 */
export function judgeAttempt(result: SendResult, attemptsInRound: number, now: Date, policy: RetryPolicy): AttemptOutcome {
  const status = result.statusCode;
  if (status !== null && status >= 200 && status < 300) return { kind: 'succeeded' };
  const reason = result.error ?? `HTTP ${status}`;
  if (status === 410) return { kind: 'dead', reason: 'HTTP 410 Gone: the receiver asked for no more retries' };
  const scheduled = retryDelayMs(policy.retryScheduleMs, attemptsInRound);
  if (scheduled === null) return { kind: 'dead', reason: `${reason}; no retries left` };
  const asked =
    status === 429 || status === 503 ? parseRetryAfter(result.retryAfter, now, { minMs: 0, maxMs: policy.retryAfterMaxMs }) : null;
  return { kind: 'retry', delayMs: asked ?? scheduled, reason };
}

/**
 * What counts against a host: a timeout, a failed connection or a 5xx (not a 4xx, a redirect or a refused target). The
 * sender's errors start with their class: `timeout`, `connection_failed` or `target_not_allowed` (webhook-sender.service.ts).
 */
export function failedHost(result: SendResult): boolean {
  if (result.statusCode !== null) return result.statusCode >= 500;
  return !result.error?.startsWith('target_not_allowed');
}
