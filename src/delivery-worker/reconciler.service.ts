import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
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
    let requeued = 0;
    let quiet = 0;
    let after = this.resumeAfter;
    this.resumeAfter = undefined;
    for (;;) {
      const rows = await this.deliveries.duePage(cutoff, after, BATCH);
      if (rows.length === 0) break;
      const orphans = await this.deliveryQueue.withoutLiveJob(rows.map((row) => ({ id: row.id, clientId: row.client_id })));
      await this.enqueueAgain(orphans);
      requeued += orphans.length;
      this.metrics.reconcilerRequeued(orphans.length);
      after = rows[rows.length - 1];
      if (rows.length < BATCH) break;
      quiet = orphans.length === 0 ? quiet + 1 : 0;
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
    await this.deliveryQueue.enqueue(await this.deliveries.jobsOf(ids));
  }
}
