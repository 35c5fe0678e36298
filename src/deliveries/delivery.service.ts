import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { parseRetryAfter, retryDelayMs } from '../../libs/webhook/src/index.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { WebhookSenderService, type SendResult } from './webhook-sender.service.js';

export type AttemptOutcome =
  | { kind: 'succeeded' }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'dead'; reason: string }
  /** Nothing to send: the delivery is gone, already delivered, or dead and not retried by hand. */
  | { kind: 'skipped' };

interface DeliveryToSend {
  id: string;
  url: string;
  method: 'GET' | 'POST';
  payload: string;
  state: string;
  attempts: number;
  attempts_before_retry: number;
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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async attempt(deliveryId: string): Promise<AttemptOutcome> {
    // One round trip for everything the request needs: the frozen row, its status change, the client's secrets.
    const [delivery] = (await this.dataSource.query(
      `SELECT d.id, d.url, d.method, d.payload, d.state, d.attempts, d.attempts_before_retry,
              s.sequence, s.changed_at, c.signing_secret, c.previous_signing_secret, c.secret_rotated_at
         FROM deliveries d
         JOIN status_changes s ON s.id = d.status_change_id
         JOIN clients c ON c.id = d.client_id
        WHERE d.id = ?`,
      [deliveryId],
    )) as DeliveryToSend[];
    if (!delivery || delivery.state !== 'pending') return { kind: 'skipped' };

    const startedAt = new Date();
    const result = await this.sender.send({
      id: delivery.id,
      method: delivery.method,
      url: delivery.url,
      payload: JSON.parse(delivery.payload) as Record<string, string>,
      secrets: this.signingSecrets(delivery, startedAt),
      sequence: delivery.sequence,
      changedAt: delivery.changed_at,
    });
    const attemptNumber = delivery.attempts + 1;
    const outcome = this.judge(result, attemptNumber - delivery.attempts_before_retry, startedAt);
    await this.record(delivery.id, attemptNumber, startedAt, result, outcome);
    return outcome;
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

  private async record(
    deliveryId: string,
    attemptNumber: number,
    startedAt: Date,
    result: SendResult,
    outcome: AttemptOutcome,
  ): Promise<void> {
    const finishedAt = new Date(startedAt.getTime() + result.durationMs);
    const state = outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'dead' ? 'dead' : 'pending';
    const nextAttemptAt = outcome.kind === 'retry' ? new Date(finishedAt.getTime() + outcome.delayMs) : null;
    const error = outcome.kind === 'dead' || outcome.kind === 'retry' ? outcome.reason.slice(0, 512) : null;
    await this.dataSource.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error, response_snippet)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        deliveryId,
        attemptNumber,
        startedAt,
        result.durationMs,
        result.statusCode,
        result.error?.slice(0, 512) ?? null,
        result.responseSnippet,
      ],
    );
    await this.dataSource.query(
      `UPDATE deliveries
          SET state = ?, attempts = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?,
              delivered_at = IF(? = 'succeeded', ?, delivered_at)
        WHERE id = ?`,
      [state, attemptNumber, result.statusCode, error, nextAttemptAt, state, finishedAt, deliveryId],
    );
    if (outcome.kind === 'dead') this.logger.warn(`delivery ${deliveryId} is dead after attempt ${attemptNumber}: ${outcome.reason}`);
  }
}
