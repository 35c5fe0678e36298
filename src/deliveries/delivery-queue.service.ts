import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { MicroBatcher } from '../common/micro-batcher.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../queue/queue.constants.js';
import type { DeliveryJob } from './delivery-job.js';

/** Adds delivery jobs to BullMQ; the job id is the delivery id, so adding one twice is harmless. */
@Injectable()
export class DeliveryQueueService {
  private readonly logger = new Logger(DeliveryQueueService.name);

  // The deliveries committed by concurrent requests go to Redis together, in one addBulk.
  private readonly batches = new MicroBatcher<DeliveryJob[], void>(
    async (lists) => {
      await this.enqueue(lists.flat());
      return lists.map(() => undefined);
    },
    { maxSize: 64, maxWaitMs: 0 },
  );

  constructor(@InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>) {}

  async enqueue(jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(jobs.map(({ deliveryId, name }) => ({ name, data: { deliveryId }, opts: { jobId: deliveryId } })));
  }

  /** Enqueues a delivery again now, replacing a finished job of the same id (a running one is left to finish). */
  async replace(job: DeliveryJob): Promise<void> {
    const state = await this.queue.getJobState(job.deliveryId);
    if (state === 'active') return;
    if (state !== 'unknown') await this.queue.remove(job.deliveryId);
    await this.enqueue([job]);
  }

  /**
   * Called right after a commit. Redis being down must not fail a request whose change is already
   * committed: the reconciler finds the pending rows and enqueues them later.
   */
  async enqueueAfterCommit(jobs: DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    // A connection already known to be down costs the request nothing: answer at once, the reconciler enqueues.
    const client = await Promise.race([
      this.queue.getBackend().connection.client,
      new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))),
    ]);
    if (client && client.status !== 'ready') {
      this.logger.warn(`enqueue of ${jobs.length} deliveries deferred to the reconciler: Redis is ${client.status}`);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis did not answer within 2 s')), 2000);
    });
    try {
      await Promise.race([this.batches.add(jobs), timeout]);
    } catch (error) {
      this.logger.warn(`enqueue of ${jobs.length} deliveries deferred to the reconciler: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
