/**
 * A delivery is the webhook of a status change (`change`), or a sync: the agent's current state sent again to one
 * agent event's URL on request (`POST …/event/{event_id}/sync`), with the sequence of the change it reflects.
 */
export const DELIVERY_KINDS = ['change', 'sync'] as const;
export type DeliveryKind = (typeof DELIVERY_KINDS)[number];
