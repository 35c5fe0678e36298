import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { parseRetryAfter, retryDelayMs } from '#webhook';
import { MicroBatcher } from '../common/micro-batcher.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { retryDeadlocks } from '../database/transaction.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ReceiverIsolationService } from '../receiver-isolation/receiver-isolation.service.js';
import { WebhookSenderService, type SendResult } from '../webhook-sender/webhook-sender.service.js';

export type AttemptOutcome =
  | { kind: 'succeeded' }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'dead'; reason: string }
  /** Not sent, no attempt used: the receiver's host is at its limit or its circuit is open. */
  | { kind: 'held'; delayMs: number; reason: string }
  /** Nothing to send: the delivery is gone, already delivered, or dead and not retried by hand. */
  | { kind: 'skipped' };

interface AttemptRecord {
  deliveryId: string;
  attemptNumber: number;
  startedAt: Date;
  result: SendResult;
  outcome: AttemptOutcome;
  /** The delivery's count of manual retries when it was loaded for this attempt. */
  manualRetries: number;
}

interface HoldRecord {
  deliveryId: string;
  reason: string;
  until: Date;
}

/** Loads go out at once (no added latency before a request); records may wait 2 ms for company. */
const LOAD_BATCHING = { maxSize: 64, maxWaitMs: 0 };
const RECORD_BATCHING = { maxSize: 64, maxWaitMs: 2 };
const SHOWN_HOLD_MS = 1000;

interface DeliveryToSend {
  id: string;
  url: string;
  method: 'GET' | 'POST';
  payload: string;
  state: string;
  attempts: number;
  attempts_before_retry: number;
  manual_retries: number;
  sequence: number;
  changed_at: Date;
  signing_secret: string;
  previous_signing_secret: string | null;
  secret_rotated_at: Date | null;
}

/** One attempt of one delivery: send it, record the attempt, and decide what comes next. MySQL holds the count. */
@Injectable()
export class DeliveryAttemptService {
  private readonly logger = new Logger(DeliveryAttemptService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sender: WebhookSenderService,
    private readonly isolation: ReceiverIsolationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  // Concurrent jobs share round trips: one SELECT loads a batch of deliveries, one transaction records a batch
  // of attempts. A job still waits for its own row to be written before it completes.
  private readonly loads = new MicroBatcher<string, DeliveryToSend | undefined>((ids) => this.load(ids), LOAD_BATCHING);
  private readonly records = new MicroBatcher<AttemptRecord, AttemptOutcome>((records) => this.record(records), RECORD_BATCHING);
  private readonly holds = new MicroBatcher<HoldRecord, void>((holds) => this.recordHolds(holds), RECORD_BATCHING);

  async attempt(deliveryId: string): Promise<AttemptOutcome> {
    const delivery = await this.loads.add(deliveryId);
    if (!delivery || delivery.state !== 'pending') return { kind: 'skipped' };

    let startedAt = new Date();
    const admission = await this.isolation.run(
      hostOf(delivery.url),
      () => {
        startedAt = new Date(); // after any wait for a slot of the host
        return this.sender.send({
          id: delivery.id,
          method: delivery.method,
          url: delivery.url,
          payload: JSON.parse(delivery.payload) as Record<string, string>,
          secrets: this.signingSecrets(delivery, startedAt),
          sequence: delivery.sequence,
          changedAt: delivery.changed_at,
        });
      },
      failedHost,
    );
    if (!admission.ran) {
      // A wait of a second or more shows in the log; a shorter one (a busy fast host) is not worth a write.
      if (admission.delayMs >= SHOWN_HOLD_MS) {
        await this.holds.add({ deliveryId: delivery.id, reason: admission.reason, until: new Date(Date.now() + admission.delayMs) });
      }
      return { kind: 'held', delayMs: admission.delayMs, reason: admission.reason };
    }
    const result = admission.value;
    const attemptNumber = delivery.attempts + 1;
    const judged = this.judge(result, attemptNumber - delivery.attempts_before_retry, startedAt);
    const outcome = await this.records.add({
      deliveryId: delivery.id,
      attemptNumber,
      startedAt,
      result,
      outcome: judged,
      manualRetries: delivery.manual_retries,
    });
    this.metrics.deliveryAttempted({
      deliveryId: delivery.id,
      url: delivery.url,
      ...result,
      outcome: outcome.kind,
      changedAt: delivery.changed_at,
    });
    if (outcome.kind === 'dead') this.logger.warn(`delivery ${delivery.id} is dead after attempt ${attemptNumber}: ${outcome.reason}`);
    return outcome;
  }

  /** Everything the requests need, in one round trip: the frozen rows, their status changes, the clients' secrets. */
  private async load(ids: string[]): Promise<(DeliveryToSend | undefined)[]> {
    const rows = (await this.dataSource.query(
      `SELECT d.id, d.url, d.method, d.payload, d.state, d.attempts, d.attempts_before_retry, d.manual_retries,
              s.sequence, s.changed_at, c.signing_secret, c.previous_signing_secret, c.secret_rotated_at
         FROM deliveries d
         JOIN status_changes s ON s.id = d.status_change_id
         JOIN clients c ON c.id = d.client_id
        WHERE d.id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    )) as DeliveryToSend[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id));
  }

  /** The current secret, and for a day after a rotation the previous one too, so receivers can switch over. */
  private signingSecrets(delivery: DeliveryToSend, now: Date): string[] {
    const overlapEnds = delivery.secret_rotated_at ? delivery.secret_rotated_at.getTime() + this.config.webhook.secretOverlapMs : 0;
    return delivery.previous_signing_secret && overlapEnds > now.getTime()
      ? [delivery.signing_secret, delivery.previous_signing_secret]
      : [delivery.signing_secret];
  }

  private judge(result: SendResult, attemptsInRound: number, now: Date): AttemptOutcome {
    const status = result.statusCode;
    if (status !== null && status >= 200 && status < 300) return { kind: 'succeeded' };
    const reason = result.error ?? `HTTP ${status}`;
    if (status === 410) return { kind: 'dead', reason: 'HTTP 410 Gone: the receiver asked for no more retries' };
    const scheduled = retryDelayMs(this.config.webhook.retryScheduleMs, attemptsInRound);
    if (scheduled === null) return { kind: 'dead', reason: `${reason}; no retries left` };
    const asked =
      status === 429 || status === 503
        ? parseRetryAfter(result.retryAfter, now, { minMs: 0, maxMs: this.config.webhook.retryAfterMaxMs })
        : null;
    return { kind: 'retry', delayMs: asked ?? scheduled, reason };
  }

  /** Held deliveries keep their attempts; the log shows why they wait and until when. */
  private async recordHolds(holds: HoldRecord[]): Promise<void[]> {
    await this.dataSource.query(
      `UPDATE deliveries SET held_reason = CASE id ${holds.map(() => 'WHEN ? THEN ?').join(' ')} END,
              next_attempt_at = CASE id ${holds.map(() => 'WHEN ? THEN ?').join(' ')} END
        WHERE id IN (${holds.map(() => '?').join(', ')}) AND state = 'pending'`,
      [
        ...holds.flatMap((hold) => [hold.deliveryId, hold.reason.slice(0, 255)]),
        ...holds.flatMap((hold) => [hold.deliveryId, hold.until]),
        ...holds.map((hold) => hold.deliveryId),
      ],
    );
    return holds.map(() => undefined);
  }

  /**
   * Each attempt's row and its delivery's new state, for a whole batch, in one transaction and one round trip (the
   * `record_attempts` procedure, src/database/migrations/…-record-attempts-procedure.ts). A delivery retried by hand
   * while its attempt was in flight keeps the retry: the attempt is logged, and the delivery goes out again at once
   * on a fresh schedule (the outcome returned says so). A deadlock victim is run again rather than failing a whole
   * batch of sent webhooks.
   */
  private async record(records: AttemptRecord[]): Promise<AttemptOutcome[]> {
    // In id order, the order the batch's deliveries are locked in.
    const batch = [...records]
      .sort((a, b) => (a.deliveryId < b.deliveryId ? -1 : a.deliveryId > b.deliveryId ? 1 : 0))
      .map(({ deliveryId, attemptNumber, startedAt, result, outcome, manualRetries }) => {
        const finishedAt = new Date(startedAt.getTime() + result.durationMs);
        return {
          id: deliveryId,
          attempt: attemptNumber,
          started_at: sqlTime(startedAt),
          duration_ms: result.durationMs,
          status_code: result.statusCode ?? undefined,
          error: result.error?.slice(0, 512),
          snippet: result.responseSnippet ?? undefined,
          manual_retries: manualRetries,
          state: outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'dead' ? 'dead' : 'pending',
          last_error: outcome.kind === 'dead' || outcome.kind === 'retry' ? outcome.reason.slice(0, 512) : undefined,
          next_attempt_at: outcome.kind === 'retry' ? sqlTime(new Date(finishedAt.getTime() + outcome.delayMs)) : undefined,
          delivered_at: outcome.kind === 'succeeded' ? sqlTime(finishedAt) : undefined,
          finished_at: sqlTime(finishedAt),
        };
      });
    const [locked] = (await retryDeadlocks(() => this.dataSource.query('CALL record_attempts(?)', [JSON.stringify(batch)]))) as [
      { id: string; manual_retries: number }[],
    ];
    const manualRetries = new Map(locked.map((row) => [row.id, Number(row.manual_retries)]));
    return records.map((record) =>
      (manualRetries.get(record.deliveryId) ?? record.manualRetries) !== record.manualRetries
        ? { kind: 'retry', delayMs: 0, reason: 'retried by hand during this attempt' }
        : record.outcome,
    );
  }
}

/** A date as the connection writes DATETIME values (UTC), for a JSON batch read by a procedure. */
function sqlTime(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}

/** Deliveries are isolated per host name (any port): one receiver machine, one limit and one circuit. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** What counts against a host: a timeout, a connection error or a 5xx (not a 4xx, a redirect or a refused target). */
function failedHost(result: SendResult): boolean {
  if (result.statusCode !== null) return result.statusCode >= 500;
  return !result.error?.startsWith('target_not_allowed');
}
