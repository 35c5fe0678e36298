import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QUEUE_LANES } from '../config/configuration.js';
import { QueueShards } from '../delivery-queue/queue-shards.js';
import type { EventSource } from '../status/event-source.js';

/** States of a receiver host's circuit breaker, as the value of `agent_events_breaker_state`. */
export const BREAKER_STATES = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATES;

export type AttemptOutcomeKind = 'succeeded' | 'retry' | 'dead' | 'skipped' | 'held' | 'superseded';

/** One attempt as the operator sees it: a log line and the figures behind the dashboards. */
export interface AttemptReport {
  deliveryId: string;
  url: string;
  statusCode: number | null;
  durationMs: number;
  outcome: AttemptOutcomeKind;
  /** When the status changed; with a 2xx, the change-to-receipt latency ends now. */
  changedAt: Date;
}

const QUEUE_STATES = ['waiting', 'delayed', 'active'] as const;
/** A scrape must answer while Redis is away: the queue depth is then left out rather than waited for. */
const QUEUE_COUNT_TIMEOUT_MS = 1000;

/** What Redis answers within QUEUE_COUNT_TIMEOUT_MS, or undefined (late, or failed). */
function withinScrape<T>(counting: Promise<T>): Promise<T | undefined> {
  return Promise.race([
    counting,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), QUEUE_COUNT_TIMEOUT_MS).unref()),
  ]).catch(() => undefined);
}

/** The process's Prometheus metrics (one registry per process), and the calls that move them. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly logger = new Logger('DeliveryAttempt');

  private readonly statusChanges = new Counter({
    name: 'agent_events_status_changes_total',
    help: 'Real status changes recorded, by event_source (api, phone).',
    labelNames: ['event_source'],
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'agent_events_delivery_attempts_total',
    help: 'Delivery attempts by outcome: succeeded, retry (failed, will be tried again), dead (failed, no retries left).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly attemptDuration = new Histogram({
    name: 'agent_events_delivery_attempt_duration_seconds',
    help: "Duration of one webhook request, until the receiver's answer, an error or the timeout.",
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly changeToReceipt = new Histogram({
    name: 'agent_events_change_to_receipt_seconds',
    help: "From the status change (changed_at) to the receiver's 2xx answer, retries included.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
    registers: [this.registry],
  });
  private readonly breakerState = new Gauge({
    name: 'agent_events_breaker_state',
    help: "A receiver host's circuit breaker: 0 closed (sending), 1 half-open (one probe), 2 open (deliveries wait).",
    labelNames: ['host'],
    registers: [this.registry],
  });
  /** Only in a worker process: made when the worker first sets it, so the API's page does not show a 0. */
  private workerConcurrency?: Gauge;
  private readonly holds = new Counter({
    name: 'agent_events_delivery_holds_total',
    help: "Deliveries a worker took and put back to wait without an attempt, by what held them: host (the receiver host's limit or open circuit), order (an older delivery of the agent to the URL still pending).",
    labelNames: ['held_by'],
    registers: [this.registry],
  });
  private readonly requeued = new Counter({
    name: 'agent_events_reconciler_requeued_total',
    help: 'Pending deliveries the reconciler found without a job and enqueued again.',
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'agent_events_http_request_duration_seconds',
    help: 'API requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(shards: QueueShards) {
    // prom-client samples the event loop's delay every 10 ms, and its `nodejs_eventloop_lag_*` figures include that
    // interval: sampled less often (fewer wake-ups of an idle process), they would all move up by the new interval.
    collectDefaultMetrics({ register: this.registry, prefix: 'agent_events_' });
    new Gauge({
      name: 'agent_events_queue_jobs',
      help: 'Jobs of the delivery queues (all shards) by state (waiting, delayed, active), counted in Redis at each scrape.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await withinScrape(Promise.all(shards.queues.map((queue) => queue.getJobCounts(...QUEUE_STATES))));
        if (!counts) return;
        for (const state of QUEUE_STATES)
          this.set(
            { state },
            counts.reduce((sum, shard) => sum + (shard[state] ?? 0), 0),
          );
      },
    });
    new Gauge({
      name: 'agent_events_queue_workers',
      help: "Worker processes serving each lane of the delivery queues (the fewest of any shard), counted in Redis at each scrape (BullMQ's named worker connections): 0 means no worker serves that lane, and its deliveries wait until one does.",
      labelNames: ['lane'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await withinScrape(
          Promise.all(shards.shards.map((shard) => Promise.all(QUEUE_LANES.map((lane) => shard.lane(lane).getWorkersCount())))),
        );
        if (!counts) return;
        QUEUE_LANES.forEach((lane, index) => this.set({ lane }, Math.min(...counts.map((shard) => shard[index]))));
      },
    });
  }

  workerConcurrencyChanged(limit: number): void {
    this.workerConcurrency ??= new Gauge({
      name: 'agent_events_worker_concurrency',
      help: 'The jobs in flight this worker process allows now in each lane it serves: WORKER_CONCURRENCY, or fewer while its event loop is saturated.',
      registers: [this.registry],
    });
    this.workerConcurrency.set(limit);
  }

  statusChanged(eventSource: EventSource): void {
    this.statusChanges.inc({ event_source: eventSource });
  }

  /** Metrics of one attempt, and its log line (never the URL's path or query: they may carry a receiver's key). */
  deliveryAttempted(report: AttemptReport): void {
    this.deliveries.inc({ outcome: report.outcome });
    this.attemptDuration.observe({ outcome: report.outcome }, report.durationMs / 1000);
    if (report.outcome === 'succeeded') this.changeToReceipt.observe((Date.now() - report.changedAt.getTime()) / 1000);
    this.logger.log({
      msg: 'delivery attempt',
      deliveryId: report.deliveryId,
      host: hostOf(report.url),
      statusCode: report.statusCode,
      durationMs: report.durationMs,
      outcome: report.outcome,
    });
  }

  deliveryHeld(heldBy: 'host' | 'order'): void {
    this.holds.inc({ held_by: heldBy });
  }

  setBreakerState(host: string, state: BreakerState): void {
    this.breakerState.set({ host }, BREAKER_STATES[state]);
  }

  reconcilerRequeued(count: number): void {
    this.requeued.inc(count);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}
