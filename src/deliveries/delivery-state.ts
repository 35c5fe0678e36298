/** A delivery is pending until it succeeds, or until its last retry fails (dead; it can be retried by hand). */
export const DELIVERY_STATES = ['pending', 'succeeded', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
