import { Queue } from 'bullmq';
import { crc32 } from 'node:zlib';
import type { RedisClient } from '../redis/redis-connections.js';
import { shardPrefixes } from '../redis/queue-prefixes.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE, type WebhookJobData } from './queue.constants.js';

/**
 * The queue a client's deliveries go to. All of a client's deliveries (so all of each of its agents') are in one
 * queue: its fair-share count and its agents' order are kept inside one queue and one hash slot.
 */
export function shardOf(clientId: string, shards: number): number {
  return crc32(clientId) % shards;
}

const shardQueue = (connection: RedisClient, prefix: string) => {
  const queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix, defaultJobOptions: WEBHOOK_JOB_OPTIONS });
  // The connection's errors are logged where it is made (redis-connections.ts).
  queue.on('error', () => undefined);
  return queue;
};

/**
 * The delivery queues, one per shard, every one named `webhooks` under its own prefix; a delivery's queue is its
 * client's.
 */
export class QueueShards {
  private constructor(readonly queues: Queue<WebhookJobData>[]) {}

  /** Every queue made here, on one connection (the API's producer). */
  static create(connection: RedisClient, config: { queuePrefix: string; queueShards: number }): QueueShards {
    return new QueueShards(shardPrefixes(config.queuePrefix, config.queueShards).map((prefix) => shardQueue(connection, prefix)));
  }

  /**
   * The queue @nestjs/bullmq registered (QUEUE_PREFIX: queue 0) and the other shards' queues beside it, on its
   * connection. The module registers queues by name, and every shard's is named `webhooks`: one registration.
   */
  static beside(first: Queue<WebhookJobData>, config: { queuePrefix: string; queueShards: number }): QueueShards {
    const connection = first.opts.connection as RedisClient;
    const [, ...others] = shardPrefixes(config.queuePrefix, config.queueShards);
    return new QueueShards([first, ...others.map((prefix) => shardQueue(connection, prefix))]);
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
