import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../queue/queue.constants.js';
import { DeliveryService } from './delivery.service.js';

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
 * How long a job stays locked to a worker that stopped answering (killed, frozen) before another takes it over.
 * Read from the environment when the class is defined, since BullMQ starts the worker with these options.
 */
const LOCK_MS = Number(process.env.WORKER_LOCK_MS) || 30_000;

@Processor(WEBHOOK_QUEUE, {
  settings: { backoffStrategy: deliveryBackoff },
  lockDuration: LOCK_MS,
  stalledInterval: LOCK_MS,
  maxStalledCount: 5,
})
export class DeliveryProcessor extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryProcessor.name);

  constructor(
    private readonly deliveries: DeliveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.webhook.concurrency;
  }

  /** Stop taking jobs and wait for the in-flight ones, before MySQL and the HTTP agents are closed. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }

  async process(job: Job<WebhookJobData>): Promise<string> {
    const outcome = await this.deliveries.attempt(job.data.deliveryId);
    if (outcome.kind === 'retry') {
      throw new RetryLaterError(outcome.delayMs, `${outcome.reason}; next attempt in ${Math.ceil(outcome.delayMs / 1000)} s`);
    }
    if (outcome.kind === 'dead') throw new UnrecoverableError(outcome.reason);
    return outcome.kind;
  }

  /** Redis trouble (a lost key, a dropped connection): logged; the reconciler puts the delivery back from MySQL. */
  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.warn(`worker: ${error.message}`);
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job<WebhookJobData> | undefined, error: Error): void {
    if (!(error instanceof RetryLaterError) && !(error instanceof UnrecoverableError)) {
      this.logger.error(`job ${job?.id} failed unexpectedly: ${error.stack ?? error.message}`);
    }
  }
}
