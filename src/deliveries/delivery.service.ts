import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { parseRetryAfter, retryDelayMs } from '../../libs/webhook/src/index.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { transaction } from '../database/transaction.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ReceiverIsolationService } from '../receiver-isolation/receiver-isolation.service.js';
import { WebhookSenderService, type SendResult } from './webhook-sender.service.js';

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
export class DeliveryService {
  private readonly logger = new Logger(DeliveryService.name);

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
   * Each attempt's row and its delivery's new state, for a whole batch, in one transaction. A delivery retried by
   * hand while its attempt was in flight keeps the retry: the attempt is logged, and the delivery goes out again
   * at once on a fresh schedule (the outcome returned says so).
   */
  private async record(records: AttemptRecord[]): Promise<AttemptOutcome[]> {
    const attempts = records.map(({ deliveryId, attemptNumber, startedAt, result }) => [
      deliveryId,
      attemptNumber,
      startedAt,
      result.durationMs,
      result.statusCode,
      result.error?.slice(0, 512) ?? null,
      result.responseSnippet,
    ]);
    const ids = records.map((record) => record.deliveryId);
    let outcomes: AttemptOutcome[] = [];
    // A deadlock victim is run again rather than failing a whole batch of sent webhooks.
    await transaction(this.dataSource, async (manager) => {
      await manager.query(
        `INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
         VALUES ${attempts.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        attempts.flat(),
      );
      // The rows are locked before their outcome is decided: a manual retry either committed before (and is seen
      // here) or waits and comes after.
      const current = (await manager.query(
        `SELECT id, manual_retries FROM deliveries WHERE id IN (${ids.map(() => '?').join(', ')}) FOR UPDATE`,
        ids,
      )) as {
        id: string;
        manual_retries: number;
      }[];
      const manualRetries = new Map(current.map((row) => [row.id, Number(row.manual_retries)]));
      const retriedByHand = records.map(
        (record) => (manualRetries.get(record.deliveryId) ?? record.manualRetries) !== record.manualRetries,
      );
      outcomes = records.map((record, index) =>
        retriedByHand[index] ? { kind: 'retry', delayMs: 0, reason: 'retried by hand during this attempt' } : record.outcome,
      );
      const states = records.map(({ deliveryId, attemptNumber, startedAt, result }, index) => {
        const outcome = outcomes[index];
        const finishedAt = new Date(startedAt.getTime() + result.durationMs);
        return {
          id: deliveryId,
          state: outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'dead' ? 'dead' : 'pending',
          attempts: attemptNumber,
          last_status_code: result.statusCode,
          last_error: outcome.kind === 'dead' || outcome.kind === 'retry' ? outcome.reason.slice(0, 512) : null,
          next_attempt_at: outcome.kind === 'retry' ? new Date(finishedAt.getTime() + outcome.delayMs) : null,
          delivered_at: outcome.kind === 'succeeded' ? finishedAt : null,
          // A manual retry's fresh schedule starts after this attempt.
          attempts_before_retry: retriedByHand[index] ? attemptNumber : null,
        };
      });
      // One UPDATE for the batch: each column takes the value of its row through CASE id.
      const caseId = `CASE id ${states.map(() => 'WHEN ? THEN ?').join(' ')} END`;
      const values = (name: keyof (typeof states)[number]) => states.flatMap((state) => [state.id, state[name]]);
      const updated = ['state', 'attempts', 'last_status_code', 'last_error', 'next_attempt_at'] as const;
      const kept = ['delivered_at', 'attempts_before_retry'] as const;
      await manager.query(
        `UPDATE deliveries SET ${updated.map((name) => `${name} = ${caseId}`).join(', ')}, held_reason = NULL,
                ${kept.map((name) => `${name} = COALESCE(${caseId}, ${name})`).join(', ')}
          WHERE id IN (${ids.map(() => '?').join(', ')})`,
        [...updated.flatMap(values), ...kept.flatMap(values), ...ids],
      );
    });
    return outcomes;
  }
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
