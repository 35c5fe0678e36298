import { randomFillSync } from 'node:crypto';
import { ulid } from 'ulid';

// ulid's default source asks the OS for randomness once per character; one pooled buffer serves 256 ids.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function pooledRandom(): number {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++] / 256;
}

/** A delivery id: `msg_` + a ULID, so ids sort by creation time. Also the `webhook-id` header and the job id. */
export function newMessageId(): string {
  return `msg_${ulid(undefined, pooledRandom)}`;
}

/**
 * The first 26 characters of a delivery id, shared by one status change's deliveries: the `change_agent` procedure
 * appends four characters of each subscription's ordinal (a delivery id is still `msg_` + a ULID).
 */
export function newMessageIdBase(): string {
  return newMessageId().slice(0, 26);
}
