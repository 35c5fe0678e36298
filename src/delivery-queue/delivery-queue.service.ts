import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { MicroBatcher } from '../common/micro-batcher.js';
import { redisScript } from '../redis/redis-script.js';
import type { DeliveryJob } from './delivery-job.js';
import type { WebhookJobData } from './queue.constants.js';
import type { ShardQueue } from './queue-shards.js';
import { WebhookProducer } from './webhook-producer.js';

/**
 * Jobs added in one round trip at most. The producer's commands time out after 2 s; a reconciler's page of 1,000
 * jobs in one pipeline (3,000 with three reconcilers at once) could keep Redis busy longer than that on a loaded
 * machine, and the pass failed. In chunks, no command waits behind more than a few hundred others.
 */
const ENQUEUE_CHUNK = 100;

/** Unlinks a job hash that has no `timestamp` (no job was added under it), unless a job was added meanwhile. */
const UNLINK_REMNANT = redisScript<number>(
  'unlinkJobRemnant',
  1,
  `if redis.call('HEXISTS', KEYS[1], 'timestamp') == 0 then return redis.call('UNLINK', KEYS[1]) end return 0`,
);

/** Adds delivery jobs to BullMQ, each to its client's queue; the job id is the delivery id, so adding one twice is harmless. */
@Injectable()
export class DeliveryQueueService {
  private readonly logger = new Logger(DeliveryQueueService.name);

  // The deliveries committed by concurrent requests go to Redis together, in one addBulk.
  private readonly batches = new MicroBatcher<DeliveryJob[], void>(
    async (lists) => {
      await this.enqueue(lists.flat());
      return lists.map(() => undefined);
    },
    { maxSize: 64, maxInFlight: 2 },
  );

  /** Per shard, whether its last turn gave a delivery the first lane: then a job alone goes with its turn (addAlone). */
  private readonly firstLast = new Map<ShardQueue, boolean>();

  constructor(private readonly producer: WebhookProducer) {}

  private get shards() {
    return this.producer.shards;
  }

  /** Fails at once while the producer is not connected to Redis (nothing waits for it to come back). */
  async enqueue(jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    if (!this.producer.ready) throw new Error('Redis is not connected');
    for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
      const chunk = jobs.slice(start, start + ENQUEUE_CHUNK);
      await Promise.all(this.shards.split(chunk, (job) => job.clientId).map(([shard, ofShard]) => this.add(shard, ofShard)));
    }
  }

  /**
   * Adds jobs of one shard's clients to it: each client's first waiting delivery to the first lane, in arrival order;
   * the rest to the backlog lane, by priority (fair-shares.ts).
   */
  private async add(shard: ShardQueue, jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 1 && this.firstLast.get(shard) !== false) return this.addAlone(shard, jobs[0]);
    const turns = await this.producer.takeTurns(shard, jobs);
    this.firstLast.set(shard, turns[turns.length - 1].lane === 'first');
    const first = jobs.filter((_, index) => turns[index].lane === 'first');
    const backlog = jobs.flatMap((job, index) => (turns[index].lane === 'backlog' ? [{ job, priority: turns[index].priority }] : []));
    await Promise.all([
      first.length > 0 &&
        this.addTo(
          shard.first,
          first.map((job) => ({ job })),
        ),
      backlog.length > 0 && this.addTo(shard.backlog, backlog),
    ]);
  }

  /**
   * A job alone (a quiet moment's change), most likely its client's first waiting one: its add to the first lane is
   * sent right behind its turn, on the same connection, so both take one round trip. Given the backlog lane instead,
   * the turn leaves a stand-in under the job's id in the first lane, where the add then finds the id taken and adds
   * nothing; the stand-in goes and the job goes to the backlog lane, in a second round trip (as every job took before).
   * While a shard's turns give the backlog lane (a busy moment), its jobs take their turn first (`add`).
   */
  private async addAlone(shard: ShardQueue, job: DeliveryJob): Promise<void> {
    const turning = this.producer.takeTurns(shard, [job], true);
    const adding = this.addTo(shard.first, [{ job }]);
    const [[turn]] = await Promise.all([turning, adding]);
    this.firstLast.set(shard, turn.lane === 'first');
    // The stand-in gone, the job goes to the backlog lane. None there: the job is in the first lane after all, or another
    // enqueue of this delivery took the stand-in away and adds it to the backlog lane (fair-shares.ts, DROP_STAND_IN).
    if (turn.lane === 'backlog' && (await this.producer.dropStandIn(shard, job.deliveryId))) {
      await this.addTo(shard.backlog, [{ job, priority: turn.priority }]);
    }
  }

  private async addTo(queue: Queue<WebhookJobData>, entries: { job: DeliveryJob; priority?: number }[]): Promise<void> {
    const jobOf = ({ job: { deliveryId, clientId, host, name }, priority }: { job: DeliveryJob; priority?: number }) => ({
      name,
      data: { deliveryId, clientId, host },
      opts: priority === undefined ? { jobId: deliveryId } : { jobId: deliveryId, priority },
    });
    // A job alone (a quiet moment's change, a retry) goes in with `add`, one script call. `addBulk` builds an ioredis
    // pipeline, whose constructor copies every script BullMQ defined onto it: 60 µs for a job against 140 µs.
    if (entries.length === 1) {
      const { name, data, opts } = jobOf(entries[0]);
      await queue.add(name, data, opts);
      return;
    }
    await queue.addBulk(entries.map(jobOf));
  }

  /**
   * Of these deliveries, those whose job is missing or finished (completed or failed), their finished jobs removed:
   * adding them now enqueues them again, where a finished job of the same id would make the add a no-op. A job
   * waiting, delayed or active is left alone (it loads the row when it runs). One round trip per queue asks about them.
   */
  async withoutLiveJob(deliveries: { id: string; clientId: string }[]): Promise<string[]> {
    if (deliveries.length === 0) return [];
    if (!this.producer.ready) throw new Error('Redis is not connected');
    const found = await Promise.all(
      this.shards
        .split(deliveries, (delivery) => delivery.clientId)
        .map(([shard, ofShard]) =>
          this.withoutLiveJobIn(
            shard,
            ofShard.map((delivery) => delivery.id),
          ),
        ),
    );
    return found.flat();
  }

  private async withoutLiveJobIn(shard: ShardQueue, ids: string[]): Promise<string[]> {
    // The producer's ioredis connection (BullMQ types it as its backend-neutral client).
    const redis = (await shard.first.backend.client) as unknown as Redis;
    // A job hash has `timestamp` from the moment it is added, and `finishedOn` once it completed or failed. A job is
    // in one lane or the other: both are asked. A hash with other fields but no `timestamp` is what a worker wrote
    // after Redis lost the job mid-attempt: no job, yet BullMQ adds nothing under an id whose key exists.
    const lanes = [shard.first, shard.backlog];
    const pipeline = redis.pipeline();
    for (const id of ids) for (const queue of lanes) pipeline.hmget(queue.toKey(id), 'timestamp', 'finishedOn', 'processedOn');
    const replies = (await pipeline.exec()) ?? [];
    const missing: string[] = [];
    const finished: [Queue<WebhookJobData>, string][] = [];
    const remnants: string[] = [];
    ids.forEach((id, index) => {
      const found = lanes.flatMap((queue, lane) => {
        const [error, fields] = replies[index * lanes.length + lane] ?? [new Error('no reply'), null];
        if (error) throw error;
        const [addedAt, finishedOn, processedOn] = fields as [string | null, string | null, string | null];
        if (addedAt === null && (finishedOn !== null || processedOn !== null)) remnants.push(queue.toKey(id));
        return addedAt === null ? [] : [{ queue, finished: finishedOn !== null }];
      });
      if (found.length === 0) missing.push(id);
      else if (found.every((job) => job.finished)) finished.push(...found.map(({ queue }): [Queue<WebhookJobData>, string] => [queue, id]));
    });
    await Promise.all([...finished.map(([queue, id]) => queue.remove(id)), ...remnants.map((key) => UNLINK_REMNANT(redis, key))]);
    return [...missing, ...new Set(finished.map(([, id]) => id))];
  }

  /**
   * Enqueues a delivery again now, replacing a finished job of the same id. A job still running is given a moment
   * to end; if it does not, the attempt in flight sees the manual retry when it records its outcome and runs again.
   * Like `enqueueAfterCommit`, it never fails the request: the row is pending and due, so the reconciler has it.
   */
  async replace(job: DeliveryJob): Promise<void> {
    const { deliveryId } = job;
    const shard = this.shards.of(job.clientId);
    try {
      if (!this.producer.ready) throw new Error('Redis is not connected');
      let state = await shard.jobState(deliveryId);
      // An attempt that has just recorded its outcome ends within milliseconds; a slow one sees the retry itself.
      for (let wait = 0; state === 'active' && wait < 10; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        state = await shard.jobState(deliveryId);
      }
      if (state === 'active') return;
      // A worker may take the job in between: it is then locked (remove answers 0) and its attempt sees the retry.
      if (state !== 'unknown' && (await shard.removeJob(deliveryId)) === 0) return;
      await this.enqueue([job]);
    } catch (error) {
      this.logger.warn(`enqueue of retried delivery ${deliveryId} deferred to the reconciler: ${(error as Error).message}`);
    }
  }

  /**
   * Called right after a commit. Redis being down must not fail (or hold) a request whose change is already
   * committed: the producer's connection fails fast, and the reconciler finds the pending rows and enqueues them.
   */
  async enqueueAfterCommit(jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    try {
      await this.batches.add(jobs);
    } catch (error) {
      this.logger.warn(`enqueue of ${jobs.length} deliveries deferred to the reconciler: ${(error as Error).message}`);
    }
  }
}
