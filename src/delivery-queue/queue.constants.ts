import type { DefaultJobOptions } from 'bullmq';
import type { AppConfig } from '../config/configuration.js';

/**
 * The two lanes of each delivery queue (fair-shares.ts): `webhooks` takes each client's first waiting delivery (at an
 * everyday rate, nearly every delivery), `webhooks-backlog` the rest of a client's backlog, in fair-share order. A
 * worker process serves both lanes, or one of them (WORKER_LANES): a process of the first lane alone never runs a
 * backlog's jobs, so a quiet client's webhook never shares its event loop with another client's backlog.
 */
export const WEBHOOK_QUEUE = 'webhooks';
export const BACKLOG_QUEUE = 'webhooks-backlog';
export type Lane = AppConfig['workerLanes'][number];

export interface WebhookJobData {
  deliveryId: string;
  /** The delivery's client: its share of the workers is counted per client (fair-shares.ts). */
  clientId?: string;
  /** The receiver's host name (hostOf in delivery-job.ts): its slot is asked for while the delivery loads. */
  host?: string;
}

/** Every delivery job's options, for the worker's queue and the producer's alike. */
export const WEBHOOK_JOB_OPTIONS: DefaultJobOptions = {
  // The delivery service owns the retry schedule (MySQL counts the attempts); BullMQ only re-runs
  // a job when the processor asks for it, so this ceiling is never the one that ends a delivery.
  attempts: 1000,
  backoff: { type: 'delivery-schedule' },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
  // A failed attempt's reason is one line (what the receiver did); no stack trace kept beside it in Redis.
  stackTraceLimit: 0,
};
