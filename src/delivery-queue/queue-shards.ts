import calculateSlot from 'cluster-key-slot';
import { Queue } from 'bullmq';
import { crc32 } from 'node:zlib';
import type { RedisClient } from '../redis/redis-connections.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE, type WebhookJobData } from './queue.constants.js';

const SLOTS = 16384;
const HASH_TAG = /^([^{]*)\{([^}]+)\}(.*)$/;

/**
 * The queue a client's deliveries go to. All of a client's deliveries (so all of each of its agents') are in one
 * queue: its fair-share count and its agents' order are kept inside one queue and one hash slot.
 */
export function shardOf(clientId: string, shards: number): number {
  return crc32(clientId) % shards;
}

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

/** The delivery queues on one connection, one per shard; a delivery's queue is its client's. */
export class QueueShards {
  readonly queues: Queue<WebhookJobData>[];

  constructor(connection: RedisClient, config: { queuePrefix: string; queueShards: number }) {
    this.queues = shardPrefixes(config.queuePrefix, config.queueShards).map((prefix) => {
      const queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix, defaultJobOptions: WEBHOOK_JOB_OPTIONS });
      // The connection's errors are logged where it is made (redis-connections.ts).
      queue.on('error', () => undefined);
      return queue;
    });
  }

  of(clientId: string): Queue<WebhookJobData> {
    return this.queues[shardOf(clientId, this.queues.length)];
  }

  /** Each queue with the entries of its clients, in their order: `clientOf` says whose an entry is. */
  split<T>(entries: T[], clientOf: (entry: T) => string): [Queue<WebhookJobData>, T[]][] {
    const byShard = this.queues.map((): T[] => []);
    for (const entry of entries) byShard[shardOf(clientOf(entry), this.queues.length)].push(entry);
    return byShard.flatMap((list, shard): [Queue<WebhookJobData>, T[]][] => (list.length ? [[this.queues[shard], list]] : []));
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close().catch(() => undefined)));
  }
}
