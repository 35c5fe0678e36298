/**
 * A delivery is pending until it succeeds, or until its last retry fails (dead; it can be retried by hand), or until
 * a newer change of its agent to the same URL takes its place (superseded: never sent after the newer one).
 */
export const DELIVERY_STATES = ['pending', 'succeeded', 'dead', 'superseded'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** The states a bulk recovery sends again (POST /client/{client_id}/delivery/recover). */
export const RECOVERABLE_STATES = ['dead'] as const;
export type RecoverableState = (typeof RECOVERABLE_STATES)[number];
