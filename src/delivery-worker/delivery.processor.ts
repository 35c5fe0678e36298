import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { turnsTaken, type TurnTaken } from '../delivery-queue/fair-shares.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import type { Lane, WebhookJobData } from '../delivery-queue/queue.constants.js';
import { QueueShards, type ShardQueue } from '../delivery-queue/queue-shards.js';
import { throttledLog } from '../logging/throttled-log.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { redisScript } from '../redis/redis-script.js';
import { AdaptiveConcurrency } from './adaptive-concurrency.js';
import { DeliveryAttemptService } from './delivery-attempt.service.js';

/**
 * The order marks beside the queue (`order:<delivery>`, a set, shared by both lanes): the jobs waiting for a delivery,
 * and `through` once it is. WAIT_FOR notes a waiting job and says whether the delivery is through already; THROUGH
 * returns the waiting jobs and leaves only the mark, for 30 s: far longer than a job takes from its load to its move
 * back to the queue. One script each, one round trip. KEYS: the set. ARGV: the waiting job and the set's lifetime (WAIT_FOR).
 */
const WAIT_FOR = redisScript<number>(
  'orderWaitFor',
  1,
  `redis.call('SADD', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return redis.call('SISMEMBER', KEYS[1], 'through')`,
);
const THROUGH = redisScript<string[]>(
  'orderThrough',
  1,
  `local waiting = redis.call('SMEMBERS', KEYS[1]) redis.call('DEL', KEYS[1]) redis.call('SADD', KEYS[1], 'through')
redis.call('PEXPIRE', KEYS[1], 30000) return waiting`,
);

/** Turns taken, per shard: up to 256 clients' deliveries per script, one script in flight. */
const TURN_BATCHING = { maxSize: 256, maxInFlight: 1 };

/** Carries the delay the delivery service chose (schedule, jitter, Retry-After) to BullMQ's backoff. */
export class RetryLaterError extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** BullMQ waits exactly as long as the delivery service decided, which it also wrote to `next_attempt_at`. */
export function deliveryBackoff(_attemptsMade: number, _type?: string, error?: Error): number {
  return error instanceof RetryLaterError ? error.delayMs : 5000;
}

/**
 * The BullMQ workers of the delivery queues, one per shard (QUEUE_SHARDS) and lane (WORKER_LANES), each lane sharing
 * the process's limit of jobs in flight equally between its shards: WORKER_CONCURRENCY, lowered while the event loop
 * is saturated (adaptive-concurrency.ts). Each lane has slots of its own, so a client's first waiting delivery never
 * waits for a slot another client's backlog holds. They are built here rather than through `@Processor`, whose options
 * are fixed when the class is defined: the lock (how long a job stays with a worker that stopped answering before
 * another takes it over) comes from the configuration.
 */
@Injectable()
export class DeliveryProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryProcessor.name);
  /** BullMQ's worker retries a failing Redis command at once (a MOVED or CLUSTERDOWN loop): its errors, with backoff. */
  private readonly logError = throttledLog(this.logger);
  /** The BullMQ workers, one per queue and lane served, from application bootstrap on (read by the health check). */
  workers: Worker<WebhookJobData, string>[] = [];
  /** The jobs in flight this process allows now, shared by its workers. */
  readonly concurrency: AdaptiveConcurrency;
  private readonly turnBatchers = new Map<ShardQueue, MicroBatcher<TurnTaken, void>>();

  constructor(
    private readonly deliveries: DeliveryAttemptService,
    private readonly shards: QueueShards,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    const { minConcurrency: min, concurrency: max } = config.webhook;
    this.concurrency = new AdaptiveConcurrency({ min, max }, (limit) => {
      for (const worker of this.workers) worker.concurrency = this.perWorker(limit);
      metrics.workerConcurrencyChanged(limit);
    });
    metrics.workerConcurrencyChanged(max);
  }

  private perWorker(limit: number): number {
    return Math.ceil(limit / this.shards.shards.length);
  }

  onApplicationBootstrap(): void {
    const lockMs = this.config.workerLockMs;
    const concurrency = this.perWorker(this.concurrency.limit);
    const served = this.shards.shards.flatMap((shard) => this.config.workerLanes.map((lane) => ({ shard, lane, queue: shard.lane(lane) })));
    this.workers = served.map(({ shard, lane, queue }) => {
      const worker = new Worker<WebhookJobData, string>(queue.name, (job, token) => this.process(shard, lane, job, token), {
        connection: queue.opts.connection,
        prefix: queue.opts.prefix,
        concurrency,
        settings: { backoffStrategy: deliveryBackoff },
        lockDuration: lockMs,
        lockRenewTime: lockMs / 2,
        stalledInterval: lockMs,
        maxStalledCount: 5,
      });
      worker.on('error', (error) => this.onError(error));
      worker.on('failed', (job, error) => this.onFailed(job, error));
      return worker;
    });
    this.concurrency.start();
  }

  /** Stop taking jobs and wait for the in-flight ones, before MySQL and the HTTP agents are closed. */
  async beforeApplicationShutdown(): Promise<void> {
    this.concurrency.stop();
    await Promise.all(this.workers.map((worker) => worker.close()));
  }

  /**
   * One job of `shard`'s `lane`: the delivery's order marks and its client's count are kept beside it, in its hash
   * slot.
   */
  async process(shard: ShardQueue, lane: Lane, job: Job<WebhookJobData>, token?: string): Promise<string> {
    this.concurrency.started();
    try {
      return await this.attempt(shard, lane, job, token);
    } finally {
      this.concurrency.finished();
    }
  }

  private async attempt(shard: ShardQueue, lane: Lane, job: Job<WebhookJobData>, token?: string): Promise<string> {
    // The host's slot is asked for, and the load queued, first: they are on the way to the request; the turn is not.
    const attempting = this.deliveries.attempt(job.data.deliveryId, shard, lane, job.data.host);
    // Taken from the backlog lane the first time: its client has one delivery fewer waiting there (fair-shares.ts). A
    // first-lane job's taking is read from the job itself, BullMQ's `processedOn`: nothing to write.
    if (lane === 'backlog' && job.attemptsStarted === 1 && job.data.clientId) {
      this.turnsTaken(shard)
        .add({ clientId: job.data.clientId, priority: job.priority })
        .catch((error: Error) => this.logger.warn(`fair shares: ${error.message}`));
    }
    const outcome = await attempting;
    if (outcome.kind === 'held') {
      this.metrics.deliveryHeld(outcome.heldBy);
      // Waiting for an older delivery of its agent to its URL: woken when that one is through (ordering.ts).
      const older = outcome.waitingFor;
      const olderThrough = older ? await this.waitFor(shard, older, job.id!) : false;
      // Back to the queue without using an attempt (BullMQ skips the attempt count), freeing this slot at once.
      await job.moveToDelayed(Date.now() + (olderThrough ? 0 : outcome.delayMs), token);
      // The older one may have gone through since the look above, and its wake-up found this job still active, where it
      // cannot be promoted: looked at again now that the job is delayed, it goes at once rather than at its next look.
      if (older && !olderThrough && (await this.isThrough(shard, older))) await job.promote().catch(() => undefined);
      throw new DelayedError(outcome.reason);
    }
    // Through, one way or another: whatever waited for it looks again now. A delivery sent whose agent had no newer
    // change when its attempt was recorded has no one waiting for it, nor can have (record_attempt.sql): one round
    // trip less on the everyday path.
    const noneWaits = outcome.kind === 'succeeded' && outcome.newerChange === false;
    if (outcome.kind !== 'retry' && !noneWaits) void this.wakeWaiting(shard, job.data.deliveryId);
    if (outcome.kind === 'retry') {
      throw new RetryLaterError(outcome.delayMs, `${outcome.reason}; next attempt in ${Math.ceil(outcome.delayMs / 1000)} s`);
    }
    if (outcome.kind === 'dead') throw new UnrecoverableError(outcome.reason);
    return outcome.kind;
  }

  /**
   * Notes in Redis, beside the queue, that job `waiting` waits for delivery `older` (woken by `wakeWaiting`). Returns
   * whether `older` is already through (it went through after this job's load read it pending): look again at once.
   */
  private async waitFor(shard: ShardQueue, older: string, waiting: string): Promise<boolean> {
    return (
      (await WAIT_FOR(await this.redisOf(shard), shard.key(`order:${older}`), waiting, this.config.webhook.orderHoldMs + 60_000)) === 1
    );
  }

  /**
   * Whether delivery `older` is through (its mark, left by `wakeWaiting`). The job is delayed already: a Redis that does
   * not answer here leaves it to its next look rather than failing it.
   */
  private async isThrough(shard: ShardQueue, older: string): Promise<boolean> {
    try {
      return (await (await this.redisOf(shard)).sismember(shard.key(`order:${older}`), 'through')) === 1;
    } catch {
      return false;
    }
  }

  /**
   * The backlog turns taken on a shard, counted in one script per round trip (micro-batcher.ts): an idle shard's at the end of
   * the turn of the event loop, the rest gathered while the previous one is in flight. Off the delivery's path
   * (nothing waits for it), so at saturation many deliveries share one.
   */
  private turnsTaken(shard: ShardQueue): MicroBatcher<TurnTaken, void> {
    const existing = this.turnBatchers.get(shard);
    if (existing) return existing;
    const batcher = new MicroBatcher<TurnTaken, void>(async (taken) => {
      await turnsTaken(await this.redisOf(shard), shard, taken);
      return taken.map(() => undefined);
    }, TURN_BATCHING);
    this.turnBatchers.set(shard, batcher);
    return batcher;
  }

  /** The connection both lanes of the shard's queue share (BullMQ types it as its backend-neutral client). */
  private async redisOf(shard: ShardQueue): Promise<Redis> {
    return (await shard.first.backend.client) as unknown as Redis;
  }

  /**
   * Promotes the delayed jobs that waited for this delivery, so they go out now rather than at their next look, and
   * leaves a mark for a while that it is through, for a job that read it pending just before.
   */
  private async wakeWaiting(shard: ShardQueue, deliveryId: string): Promise<void> {
    try {
      const waiting = (await THROUGH(await this.redisOf(shard), shard.key(`order:${deliveryId}`))).filter((id) => id !== 'through');
      // A job still active here (between its hold and its move to delayed) saw the mark, or looks at it once delayed
      // (and is promoted then): either way it looks again at once.
      // A job not delayed (gone, or back in the queue already) cannot be promoted: nothing to do for it. The waiting
      // job is in one lane or the other: both are asked (a waiting job is the rare path).
      const lanes = [shard.first, shard.backlog];
      await Promise.all(waiting.flatMap((id) => lanes.map((queue) => queue.backend.promote(id).catch(() => undefined))));
    } catch (error) {
      this.logger.warn(`waking deliveries that waited for ${deliveryId}: ${(error as Error).message}`);
    }
  }

  /** Redis trouble (a lost key, a dropped connection): logged; the reconciler puts the delivery back from MySQL. */
  private onError(error: Error): void {
    this.logError(`worker: ${error.message}`);
  }

  private onFailed(job: Job<WebhookJobData> | undefined, error: Error): void {
    if (!(error instanceof RetryLaterError) && !(error instanceof UnrecoverableError)) {
      this.logger.error(`job ${job?.id} failed unexpectedly: ${error.stack ?? error.message}`);
    }
  }
}
