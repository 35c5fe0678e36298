import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../delivery-queue/queue.constants.js';
import { eventTypeFor } from '../status/status-rules.js';
import { deliveryJob } from '../delivery-queue/delivery-job.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';

const BATCH = 1000;
/** A delivery due this long ago without a live job is orphaned; younger ones are still being enqueued. */
const GRACE_MS = 2000;
/** A pass stops after this many pages in a row where every delivery had its job, and the next pass goes on from there. */
const QUIET_PAGES_PER_PASS = 20;

type PageKey = { next_attempt_at: Date; id: string };

/**
 * MySQL is the source of truth: finds pending deliveries that are due but have no live job (Redis lost its
 * data, a process died between commit and enqueue, a job ended while the row stayed pending) and enqueues
 * them again. Several reconcilers may run at once: the job id is the delivery id, so they add each job once.
 * A pass costs the same at any backlog: it reads at most 20 pages (20,000 deliveries) that all have their jobs,
 * then the next pass resumes where it stopped; pages that find orphans do not count, so a Redis that lost its data
 * is refilled in one pass.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReconcilerService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  /** Where the last pass stopped (undefined: start from the first due delivery). */
  private resumeAfter?: PageKey;

  constructor(
    private readonly deliveries: DeliveriesRepository,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly deliveryQueue: DeliveryQueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running = this.reconcile()
        .catch((error: Error) => {
          this.logger.warn(`reconcile failed, will try again: ${error.message}`);
          return 0;
        })
        .finally(() => {
          this.timer = setTimeout(tick, this.config.reconcileIntervalMs);
        });
    };
    tick();
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
    clearTimeout(this.timer);
  }

  /**
   * One pass; returns how many deliveries it enqueued again. Pages through the due pending deliveries in the order
   * of the (state, next_attempt_at) index — (next_attempt_at, id) as the key, so each page reads only its own rows —
   * and asks Redis about a whole page in one round trip. `quietPages`: Infinity to go through every due delivery.
   */
  async reconcile(quietPages = QUIET_PAGES_PER_PASS): Promise<number> {
    const cutoff = new Date(Date.now() - GRACE_MS);
    // The queue's own ioredis connection (BullMQ types it as its backend-neutral client).
    const redis = (await this.queue.backend.client) as unknown as Redis;
    let requeued = 0;
    let quiet = 0;
    let after = this.resumeAfter;
    this.resumeAfter = undefined;
    for (;;) {
      const rows = await this.deliveries.duePage(cutoff, after, BATCH);
      if (rows.length === 0) break;
      const ids = rows.map((row) => row.id);
      // A job hash has `timestamp` from the moment it is added, and `finishedOn` once it completed or failed.
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hmget(this.queue.toKey(id), 'timestamp', 'finishedOn');
      const replies = (await pipeline.exec()) ?? [];
      const missing: string[] = [];
      const finished: string[] = [];
      ids.forEach((id, index) => {
        const [error, fields] = replies[index] ?? [new Error('no reply'), null];
        if (error) throw error;
        const [addedAt, finishedOn] = fields as [string | null, string | null];
        if (addedAt === null) missing.push(id);
        else if (finishedOn !== null) finished.push(id);
      });
      // A finished job would make the new add a no-op: take it away first (an active job is never removed).
      await Promise.all(finished.map((id) => this.queue.remove(id)));
      await this.enqueueAgain([...missing, ...finished]);
      requeued += missing.length + finished.length;
      this.metrics.reconcilerRequeued(missing.length + finished.length);
      after = rows[rows.length - 1];
      if (rows.length < BATCH) break;
      quiet = missing.length + finished.length === 0 ? quiet + 1 : 0;
      if (quiet >= quietPages) {
        this.resumeAfter = after;
        break;
      }
    }
    if (requeued) this.logger.log(`enqueued ${requeued} pending deliveries that had no job`);
    return requeued;
  }

  /** Adds the deliveries' jobs again, named as when they were first added (whose webhook each is). */
  private async enqueueAgain(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.deliveries.jobFacts(ids);
    await this.deliveryQueue.enqueue(
      rows.map((row) =>
        deliveryJob(row.id, {
          clientId: row.client_id,
          agentType: row.agent_type,
          agentId: row.agent_id,
          eventType: eventTypeFor(row.agent_status),
          url: row.url,
        }),
      ),
    );
  }
}
