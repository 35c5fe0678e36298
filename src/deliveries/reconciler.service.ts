import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import type { AgentStatus } from '../agents/entities/agent.entity.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../queue/queue.constants.js';
import { eventTypeFor } from '../status/agent-event-payload.js';
import { deliveryJobName } from './delivery-job.js';
import { DeliveryQueueService } from './delivery-queue.service.js';

const BATCH = 1000;
/** A delivery due this long ago without a live job is orphaned; younger ones are still being enqueued. */
const GRACE_MS = 2000;

/**
 * MySQL is the source of truth: finds pending deliveries that are due but have no live job (Redis lost its
 * data, a process died between commit and enqueue, a job ended while the row stayed pending) and enqueues
 * them again. Several reconcilers may run at once: the job id is the delivery id, so they add each job once.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReconcilerService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
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

  /** One pass; returns how many deliveries it enqueued again. */
  async reconcile(): Promise<number> {
    let requeued = 0;
    let after = '';
    for (;;) {
      const rows = (await this.dataSource.query(
        `SELECT d.id, d.client_id, d.agent_id, d.url, s.agent_type, s.agent_status
           FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
          WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND d.id > ?
          ORDER BY d.id LIMIT ${BATCH}`,
        [new Date(Date.now() - GRACE_MS), after],
      )) as { id: string; client_id: string; agent_id: number; url: string; agent_type: string; agent_status: AgentStatus }[];
      if (rows.length === 0) break;
      const ids = rows.map((row) => row.id);
      const states = await Promise.all(ids.map((id) => this.queue.getJobState(id)));
      const finished = ids.filter((_, index) => states[index] === 'completed' || states[index] === 'failed');
      const orphaned = rows.filter((_, index) => ['unknown', 'completed', 'failed'].includes(states[index]));
      // A finished job would make the new add a no-op: take it away first (an active job is never removed).
      await Promise.all(finished.map((id) => this.queue.remove(id)));
      await this.deliveryQueue.enqueue(
        orphaned.map((row) => ({
          deliveryId: row.id,
          name: deliveryJobName({
            clientId: row.client_id,
            agentType: row.agent_type,
            agentId: row.agent_id,
            eventType: eventTypeFor(row.agent_status),
            url: row.url,
          }),
        })),
      );
      requeued += orphaned.length;
      this.metrics.reconcilerRequeued(orphaned.length);
      after = ids[ids.length - 1];
      if (rows.length < BATCH) break;
    }
    if (requeued) this.logger.log(`enqueued ${requeued} pending deliveries that had no job`);
    return requeued;
  }
}
