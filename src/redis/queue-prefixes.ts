import calculateSlot from 'cluster-key-slot';

const SLOTS = 16384;
const HASH_TAG = /^([^{]*)\{([^}]+)\}(.*)$/;

/**
 * The key prefix of each queue (QUEUE_SHARDS). Queue 0 keeps QUEUE_PREFIX as it is (one queue is today's layout);
 * queue i has the hash tag `{tag-k}` with the smallest k whose slot lies in the i-th of N equal parts of the 16384
 * slots, counted from queue 0's part. A cluster whose masters hold equal runs of slots (what `redis-cli --cluster
 * create` makes) so has the N queues on N different masters, as long as it has N masters or more.
 */
export function shardPrefixes(queuePrefix: string, shards: number): string[] {
  if (shards === 1) return [queuePrefix];
  const [, before, tag, after] = HASH_TAG.exec(queuePrefix) ?? [];
  if (tag === undefined) throw new Error(`QUEUE_PREFIX needs a {hash tag} for QUEUE_SHARDS > 1, got "${queuePrefix}"`);
  const part = (candidate: string) => Math.floor((calculateSlot(candidate) * shards) / SLOTS);
  const first = part(tag);
  const prefixes = [queuePrefix];
  for (let k = 1; prefixes.length < shards; k++) {
    if (part(`${tag}-${k}`) === (first + prefixes.length) % shards) prefixes.push(`${before}{${tag}-${k}}${after}`);
  }
  return prefixes;
}
