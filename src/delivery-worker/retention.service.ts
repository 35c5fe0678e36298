import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { retryDeadlocks } from '../database/transaction.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { StatusChangesRepository } from '../status/status-changes.repository.js';
import type { DeliveryState } from '../deliveries/delivery-state.js';

const BATCH = 1000;
const DAY_MS = 24 * 3600_000;

export interface RetentionPass {
  deliveries: number;
  statusChanges: number;
  /** Bulk recoveries (`POST …/delivery/recover`) older than either retention: their progress is no longer readable. */
  recoveries: number;
  batches: number;
  /** The longest single batch transaction, in ms: how long any row lock of this pass was held at most. */
  longestBatchMs: number;
  /** Every batch's duration, in ms. */
  batchMs: number[];
}

/**
 * Prunes old delivery history: succeeded and superseded deliveries (with their attempts) `RETENTION_SUCCEEDED_DAYS`
 * after they were created, dead ones after `RETENTION_DEAD_DAYS`, and the status changes no delivery refers to any more (only
 * the delivery log reads them; an agent's sequence lives on the agent row), and bulk recoveries older than either
 * retention. Each batch of at most 1,000
 * deliveries is its own short READ COMMITTED transaction that skips rows another worker has locked, so several
 * workers may prune at once and no lock is held for long.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RetentionService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly deliveries: DeliveriesRepository,
    private readonly statusChanges: StatusChangesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running = this.prune()
        .then((pass) => {
          if (pass.deliveries || pass.statusChanges || pass.recoveries) {
            this.logger.log(
              `pruned ${pass.deliveries} deliveries, ${pass.statusChanges} status changes and ${pass.recoveries} bulk recoveries (longest batch ${pass.longestBatchMs} ms)`,
            );
          }
        })
        .catch((error: Error) => this.logger.warn(`pruning failed, will try again: ${error.message}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.config.retention.intervalMs);
        });
    };
    // Not at the same moment as the reconciler's first pass, and spread over the workers that start together.
    this.timer = setTimeout(tick, Math.round(10_000 + Math.random() * 10_000));
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over everything that is due; returns what it removed. */
  async prune(now = new Date()): Promise<RetentionPass> {
    const pass: RetentionPass = { deliveries: 0, statusChanges: 0, recoveries: 0, batches: 0, longestBatchMs: 0, batchMs: [] };
    const { succeededDays, deadDays } = this.config.retention;
    for (const [state, days] of [
      ['succeeded', succeededDays],
      ['superseded', succeededDays],
      ['dead', deadDays],
    ] as const) {
      const cutoff = new Date(now.getTime() - days * DAY_MS);
      for (;;) {
        const removed = await this.batch(pass, (manager) => this.pruneDeliveries(manager, state, cutoff));
        pass.deliveries += removed.deliveries;
        pass.statusChanges += removed.statusChanges;
        if (removed.deliveries < BATCH || this.stopped) break;
      }
    }
    // Status changes that never had a delivery (no agent event matched) go once older than either retention.
    const cutoff = new Date(now.getTime() - Math.max(succeededDays, deadDays) * DAY_MS);
    let after = 0;
    while (!this.stopped) {
      const page = await this.batch(pass, (manager) => this.pruneStatusChanges(manager, cutoff, after));
      pass.statusChanges += page.removed;
      if (page.last === null) break;
      after = page.last;
    }
    while (!this.stopped) {
      const removed = await this.batch(pass, (manager) => this.deliveries.pruneRecoveries(manager, cutoff, BATCH));
      pass.recoveries += removed;
      if (removed < BATCH) break;
    }
    return pass;
  }

  private async batch<T>(pass: RetentionPass, work: (manager: DataSource['manager']) => Promise<T>): Promise<T> {
    const started = performance.now();
    // Pruners at once (several workers, or a pass and its next) skip each other's rows, but InnoDB may still pick one's
    // batch as a deadlock's victim (the status changes' and attempts' own locks): the batch is rolled back whole and
    // run again, rather than failing the pass.
    const result = await retryDeadlocks(() => this.dataSource.transaction('READ COMMITTED', work));
    const elapsedMs = Math.round(performance.now() - started);
    pass.batches++;
    pass.batchMs.push(elapsedMs);
    pass.longestBatchMs = Math.max(pass.longestBatchMs, elapsedMs);
    return result;
  }

  private async pruneDeliveries(
    manager: DataSource['manager'],
    state: Exclude<DeliveryState, 'pending'>,
    cutoff: Date,
  ): Promise<{ deliveries: number; statusChanges: number }> {
    const removed = await this.deliveries.pruneBatch(manager, state, cutoff, BATCH);
    return { deliveries: removed.deliveries, statusChanges: await this.statusChanges.deleteUnreferred(manager, removed.statusChangeIds) };
  }

  /** One page of the oldest status changes, by primary key; `last` is null once the page reaches the cutoff. */
  private async pruneStatusChanges(
    manager: DataSource['manager'],
    cutoff: Date,
    after: number,
  ): Promise<{ removed: number; last: number | null }> {
    const rows = await this.statusChanges.oldestPage(manager, cutoff, after, BATCH);
    const removed = await this.statusChanges.deleteUnreferred(
      manager,
      rows.filter((row) => row.old && !row.referred).map((row) => row.id),
    );
    const reachedCutoff = rows.length < BATCH || rows.some((row) => !row.old);
    return { removed, last: reachedCutoff ? null : Number(rows[rows.length - 1].id) };
  }
}
