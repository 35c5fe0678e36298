import { Queue } from 'bullmq';
import { crc32 } from 'node:zlib';
import type { RedisClient } from '../redis/redis-connections.js';
import { shardPrefixes } from '../redis/queue-prefixes.js';
import { BACKLOG_QUEUE, WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE, type Lane, type WebhookJobData } from './queue.constants.js';

/**
 * The queue a client's deliveries go to. All of a client's deliveries (so all of each of its agents') are in one
 * queue: its fair-share count and its agents' order are kept inside one queue and one hash slot.
 */
export function shardOf(clientId: string, shards: number): number {
  return crc32(clientId) % shards;
}

const laneQueue = (connection: RedisClient, prefix: string, name: string) => {
  const queue = new Queue<WebhookJobData>(name, { connection, prefix, defaultJobOptions: WEBHOOK_JOB_OPTIONS });
  // The connection's errors are logged where it is made (redis-connections.ts).
  queue.on('error', () => undefined);
  return queue;
};

/**
 * One shard's queue, in its two lanes (queue.constants.ts), both under the shard's prefix and so in one hash slot.
 * The first lane's keys (`{prefix}:webhooks:*`) also hold what both lanes share: the fair-share counts and the order
 * marks.
 */
export class ShardQueue {
  constructor(
    readonly first: Queue<WebhookJobData>,
    readonly backlog: Queue<WebhookJobData>,
  ) {}

  lane(lane: Lane): Queue<WebhookJobData> {
    return lane === 'first' ? this.first : this.backlog;
  }

  /** A key beside the shard's jobs, shared by both lanes. */
  key(type: string): string {
    return this.first.toKey(type);
  }

  /** The state of the job with this id in whichever lane has it ('unknown' in neither). */
  async jobState(id: string): Promise<string> {
    const state = await this.first.getJobState(id);
    return state === 'unknown' ? this.backlog.getJobState(id) : state;
  }

  /** Removes the job with this id from its lane: 1, or 0 when neither lane had it unlocked (a worker holds it). */
  async removeJob(id: string): Promise<number> {
    return (await this.first.remove(id)) || this.backlog.remove(id);
  }
}

/**
 * The delivery queues, one per shard, every one named `webhooks` (and `webhooks-backlog`) under its own prefix; a
 * delivery's queue is its client's.
 */
export class QueueShards {
  private constructor(readonly shards: ShardQueue[]) {}

  /** Every queue made here, on one connection (the API's producer). */
  static create(connection: RedisClient, config: { queuePrefix: string; queueShards: number }): QueueShards {
    return new QueueShards(
      shardPrefixes(config.queuePrefix, config.queueShards).map(
        (prefix) => new ShardQueue(laneQueue(connection, prefix, WEBHOOK_QUEUE), laneQueue(connection, prefix, BACKLOG_QUEUE)),
      ),
    );
  }

  /**
   * The queue @nestjs/bullmq registered (QUEUE_PREFIX's first lane) and every other queue beside it, on its
   * connection. The module registers queues by name, and every shard's first lane is named `webhooks`: one registration.
   */
  static beside(first: Queue<WebhookJobData>, config: { queuePrefix: string; queueShards: number }): QueueShards {
    const connection = first.opts.connection as RedisClient;
    const prefixes = shardPrefixes(config.queuePrefix, config.queueShards);
    return new QueueShards(
      prefixes.map(
        (prefix, index) =>
          new ShardQueue(index === 0 ? first : laneQueue(connection, prefix, WEBHOOK_QUEUE), laneQueue(connection, prefix, BACKLOG_QUEUE)),
      ),
    );
  }

  /** Every queue, both lanes of every shard. */
  get queues(): Queue<WebhookJobData>[] {
    return this.shards.flatMap((shard) => [shard.first, shard.backlog]);
  }

  of(clientId: string): ShardQueue {
    return this.shards[shardOf(clientId, this.shards.length)];
  }

  /** Each shard with the entries of its clients, in their order: `clientOf` says whose an entry is. */
  split<T>(entries: T[], clientOf: (entry: T) => string): [ShardQueue, T[]][] {
    const byShard = this.shards.map((): T[] => []);
    for (const entry of entries) byShard[shardOf(clientOf(entry), this.shards.length)].push(entry);
    return byShard.flatMap((list, shard): [ShardQueue, T[]][] => (list.length ? [[this.shards[shard], list]] : []));
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close().catch(() => undefined)));
  }
}
