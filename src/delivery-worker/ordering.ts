/**
 * One agent's webhooks to one URL go in the order of its changes. Pure decisions, unit-tested in ordering.spec.ts;
 * the delivery's load (DeliveriesRepository.loadToSend) brings what they need in the same round trip.
 *
 * - A delivery is not sent while an older delivery of the same agent to the same URL is pending: it waits for it.
 * - The wait is bounded: an older delivery still pending `holdMs` after it was created gives way; it is marked
 *   `superseded` and never sent after the newer one. A receiver that was down for hours gets the newest state when it
 *   is back, not hours of replay; a delivery that goes dead releases the next at once.
 * - A delivery that a newer one of the same agent and URL has already gone out before (a manual retry of an old
 *   one, say) is superseded instead of sent: a receiver never gets an older state after a newer one.
 */
export interface OrderFacts {
  /** A newer delivery of the same agent to the same URL has been attempted or has succeeded. */
  newerSent: boolean;
  /**
   * The newest older delivery of the same agent to the same URL that is still pending, if any: the one this delivery
   * goes after. Each waits for the one before it, so a delivery through wakes one waiter, not the whole queue behind it.
   */
  older: { id: string; createdAt: Date; nextAttemptAt: Date | null } | null;
}

export type OrderDecision =
  | { kind: 'send' }
  /** This delivery is older than one already sent: it must never go out. */
  | { kind: 'superseded' }
  /** Wait for the older one; look again after `delayMs`. */
  | { kind: 'wait'; olderId: string; delayMs: number }
  /**
   * The older one has been pending longer than the hold: it, and every older one pending since before the hold, gives
   * way (all older ones were created before the newest older one).
   */
  | { kind: 'supersede-older'; olderId: string; createdBefore: Date };

/**
 * The shortest and longest wait between two looks at an older delivery. A waiting delivery is also woken as soon as
 * the older one is through (the processor promotes it), so the looks are a backstop, not the way it is released.
 */
export const ORDER_WAIT_MS = { min: 25, max: 5000 };

export function orderDecision(facts: OrderFacts, now: Date, holdMs: number): OrderDecision {
  if (facts.newerSent) return { kind: 'superseded' };
  const older = facts.older;
  if (!older) return { kind: 'send' };
  const heldSince = now.getTime() - older.createdAt.getTime();
  if (heldSince >= holdMs) return { kind: 'supersede-older', olderId: older.id, createdBefore: new Date(now.getTime() - holdMs) };
  // Look again when the hold ends, or after the longest wait, whichever is sooner (woken earlier when it is through).
  const delayMs = Math.max(Math.min(ORDER_WAIT_MS.max, holdMs - heldSince + ORDER_WAIT_MS.min), ORDER_WAIT_MS.min);
  return { kind: 'wait', olderId: older.id, delayMs };
}
