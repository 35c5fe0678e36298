import { Inject, Injectable, Logger } from '@nestjs/common';
import { hostOf } from '../delivery-queue/delivery-job.js';
import type { Lane } from '../delivery-queue/queue.constants.js';
import type { ShardQueue } from '../delivery-queue/queue-shards.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { changeFacts, DeliveriesRepository, sqlTime, type DeliveryToSend, type HoldToRecord } from '../deliveries/deliveries.repository.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Refusal, Slot } from '../receiver-isolation/host-isolation.js';
import { ReceiverIsolationService } from '../receiver-isolation/receiver-isolation.service.js';
import { agentEventPayload } from '../status/status-rules.js';
import { WebhookSenderService, type SendResult } from '../webhook-sender/webhook-sender.service.js';
import { failedHost, judgeAttempt, type AttemptOutcome } from './attempt-outcome.js';
import { ORDER_WAIT_MS, orderDecision } from './ordering.js';

export type { AttemptOutcome } from './attempt-outcome.js';

interface AttemptRecord {
  deliveryId: string;
  attemptNumber: number;
  startedAt: Date;
  result: SendResult;
  outcome: AttemptOutcome;
  /** The delivery's count of manual retries when it was loaded for this attempt. */
  manualRetries: number;
  /** Its agent, and its status change's sequence. */
  agentId: number;
  sequence: number;
}

/** Natural batching (micro-batcher.ts): a load or record goes at once, or with what gathered during the round trip before it. */
const LOAD_BATCHING = { maxSize: 64, maxInFlight: 2 };
const RECORD_BATCHING = { maxSize: 64, maxInFlight: 2 };
/** The outcomes after which a delivery is not pending any more: the one after it may go. */
const THROUGH = new Set<AttemptOutcome['kind']>(['succeeded', 'dead', 'superseded', 'skipped']);
const SHOWN_HOLD_MS = 1000;
/** A sync is marked for the receiver (the payload stays as specified); a change's webhook has no such header. */
const SYNC_HEADERS = { 'Agent-Event-Sync': 'true' };

/** One lane's batchers: the loads of deliveries, the records of attempts, the holds shown in the log. */
interface LaneBatchers {
  loads: MicroBatcher<string, DeliveryToSend | undefined>;
  records: MicroBatcher<AttemptRecord, AttemptOutcome>;
  holds: MicroBatcher<HoldToRecord, void>;
}

/** One attempt of one delivery: send it, record the attempt, and decide what comes next. MySQL holds the count. */
@Injectable()
export class DeliveryAttemptService {
  private readonly logger = new Logger(DeliveryAttemptService.name);

  constructor(
    private readonly deliveries: DeliveriesRepository,
    private readonly sender: WebhookSenderService,
    private readonly isolation: ReceiverIsolationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  // Concurrent jobs share round trips: one SELECT loads a batch of deliveries, one transaction records a batch
  // of attempts. A job still waits for its own row to be written before it completes. Each lane batches on its own:
  // a client's first delivery never waits for the round trips a backlog's batches hold (in a process serving both).
  private readonly batchers: Record<Lane, LaneBatchers> = { first: this.laneBatchers(), backlog: this.laneBatchers() };

  private laneBatchers(): LaneBatchers {
    return {
      loads: new MicroBatcher((ids) => this.load(ids), LOAD_BATCHING),
      records: new MicroBatcher((records) => this.record(records), RECORD_BATCHING),
      holds: new MicroBatcher((holds) => this.recordHolds(holds), RECORD_BATCHING),
    };
  }

  /** The deliveries this process is sending now, each with the outcome its attempt will have. */
  private readonly sending = new Map<string, Promise<AttemptOutcome['kind']>>();

  /**
   * `shard`: the delivery's queue, its client's, where the other deliveries of its agent are too (in either lane).
   * `host`: its receiver's host as the job names it; the host's slot is then asked for while the delivery loads (one
   * round trip less before the request), and given back unused if the delivery is not to be sent now.
   * `lane`: the lane its job came from, whose batchers it uses.
   */
  async attempt(deliveryId: string, shard: ShardQueue, lane: Lane, host?: string): Promise<AttemptOutcome> {
    const batchers = this.batchers[lane];
    const admitting = host ? this.isolation.admit(host) : undefined;
    const unused = () => void admitting?.then((slot) => slot.admitted && slot.cancel());
    const delivery = await batchers.loads.add(deliveryId).catch((error: unknown) => {
      unused();
      throw error;
    });
    if (!delivery || delivery.state !== 'pending') {
      unused();
      return { kind: 'skipped' };
    }
    const ahead = delivery.older_id !== null || Number(delivery.newer_sent) === 1;
    const slotAskedFor = hostOf(delivery.url) === host;
    // Out of order, or for another host than the job said: the slot is asked for again when the delivery goes.
    if (ahead || !slotAskedFor) unused();
    if (!ahead) return this.sendInTurn(delivery, batchers, slotAskedFor ? admitting : undefined);
    const olderSending = delivery.older_id === null ? undefined : this.sending.get(delivery.older_id);
    // The one before it is being sent by this process: wait for that attempt here, rather than go back to the queue
    // and be woken. Through (not pending any more), nothing stands before this one; otherwise the order decides.
    if (olderSending && Number(delivery.newer_sent) !== 1 && THROUGH.has(await olderSending)) return this.sendInTurn(delivery, batchers);
    const held = await this.keepOrder(delivery, shard, batchers);
    if (held) return held;
    return this.sendInTurn(delivery, batchers);
  }

  /** Sends, known to this process as sending until the attempt's outcome is recorded (see `attempt`). */
  private async sendInTurn(delivery: DeliveryToSend, batchers: LaneBatchers, admitting?: Promise<Slot | Refusal>): Promise<AttemptOutcome> {
    let settle!: (kind: AttemptOutcome['kind']) => void;
    this.sending.set(delivery.id, new Promise((resolve) => (settle = resolve)));
    try {
      const outcome = await this.send(delivery, batchers, admitting);
      settle(outcome.kind);
      return outcome;
    } catch (error) {
      settle('retry');
      throw error;
    } finally {
      this.sending.delete(delivery.id);
    }
  }

  /** `admitting`: the host's slot, asked for already (see `attempt`); otherwise it is asked for here. */
  private async send(delivery: DeliveryToSend, batchers: LaneBatchers, admitting?: Promise<Slot | Refusal>): Promise<AttemptOutcome> {
    const slot = await (admitting ?? this.isolation.admit(hostOf(delivery.url)));
    if (!slot.admitted) {
      // A wait of a second or more shows in the log; a shorter one (a busy fast host) is not worth a write.
      if (slot.delayMs >= SHOWN_HOLD_MS) {
        await batchers.holds.add({ deliveryId: delivery.id, reason: slot.reason, until: new Date(Date.now() + slot.delayMs) });
      }
      return { kind: 'held', heldBy: 'host', delayMs: slot.delayMs, reason: slot.reason };
    }
    const startedAt = new Date();
    let result: SendResult;
    try {
      result = await this.sender.send({
        id: delivery.id,
        method: delivery.method,
        url: delivery.url,
        payload: agentEventPayload(changeFacts(delivery)),
        secrets: this.signingSecrets(delivery, startedAt),
        sequence: delivery.sequence,
        changedAt: delivery.changed_at,
        extraHeaders: delivery.kind === 'sync' ? SYNC_HEADERS : undefined,
      });
    } catch (error) {
      slot.done(true, Date.now() - startedAt.getTime());
      throw error;
    }
    slot.done(failedHost(result), result.durationMs);
    const attemptNumber = delivery.attempts + 1;
    const judged = judgeAttempt(result, attemptNumber - delivery.attempts_before_retry, startedAt, this.config.webhook);
    const outcome = await batchers.records.add({
      deliveryId: delivery.id,
      attemptNumber,
      startedAt,
      result,
      outcome: judged,
      manualRetries: delivery.manual_retries,
      agentId: Number(delivery.agent_id),
      sequence: Number(delivery.sequence),
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

  /** Everything the requests need, in one round trip (the repository's `loadToSend`). */
  private async load(ids: string[]): Promise<(DeliveryToSend | undefined)[]> {
    const rows = await this.deliveries.loadToSend(ids);
    return ids.map((id) => rows.get(id));
  }

  /**
   * The per-agent order (ordering.ts), on the rare path where an older delivery to the same URL is pending or a newer
   * one has gone out: the outcome that stands in for sending now, or undefined to send.
   */
  private async keepOrder(delivery: DeliveryToSend, shard: ShardQueue, batchers: LaneBatchers): Promise<AttemptOutcome | undefined> {
    const older = delivery.older_id === null ? undefined : await this.deliveries.orderTimes(delivery.older_id);
    const decision = orderDecision(
      { newerSent: Number(delivery.newer_sent) === 1, older: older && delivery.older_id ? { id: delivery.older_id, ...older } : null },
      new Date(),
      this.config.webhook.orderHoldMs,
    );
    if (decision.kind === 'send') return undefined;
    if (decision.kind === 'superseded') {
      await this.deliveries.markSuperseded(delivery.id, 'superseded: a newer change of this agent has gone to this URL');
      return { kind: 'superseded' };
    }
    if (decision.kind === 'supersede-older') {
      const reason = `waiting for delivery ${decision.olderId} to give way`;
      // Not while the older one is being sent: this one waits until that attempt is through and recorded.
      if ((await shard.jobState(decision.olderId)) === 'active')
        return { kind: 'held', heldBy: 'order', delayMs: ORDER_WAIT_MS.min, reason, waitingFor: decision.olderId };
      await this.deliveries.supersedeOlder(
        delivery.agent_id,
        delivery.url,
        delivery.sequence,
        decision.createdBefore,
        `superseded: delivery ${delivery.id} of a newer change waited for it for ${Math.round(this.config.webhook.orderHoldMs / 1000)} s`,
      );
      // Taken between the look and the update, it may have read its row before the update and be sending now: wait for
      // it. Not active now, it either never read its row before the update or is through and recorded.
      if ((await shard.jobState(decision.olderId)) === 'active')
        return { kind: 'held', heldBy: 'order', delayMs: ORDER_WAIT_MS.min, reason, waitingFor: decision.olderId };
      return { kind: 'held', heldBy: 'order', delayMs: ORDER_WAIT_MS.min, reason };
    }
    const reason = `waiting for delivery ${decision.olderId}: an older change of this agent to this URL`;
    // The log shows the wait behind an older delivery that failed, or waits itself; one on its way is through in
    // milliseconds, not worth a write.
    if (delivery.held_reason !== reason && older?.heldUp) {
      await batchers.holds.add({ deliveryId: delivery.id, reason, until: new Date(Date.now() + decision.delayMs) });
    }
    return { kind: 'held', heldBy: 'order', delayMs: decision.delayMs, reason, waitingFor: decision.olderId };
  }

  /** The current secret, and for a day after a rotation the previous one too, so receivers can switch over. */
  private signingSecrets(delivery: DeliveryToSend, now: Date): string[] {
    const overlapEnds = delivery.secret_rotated_at ? delivery.secret_rotated_at.getTime() + this.config.webhook.secretOverlapMs : 0;
    return delivery.previous_signing_secret && overlapEnds > now.getTime()
      ? [delivery.signing_secret, delivery.previous_signing_secret]
      : [delivery.signing_secret];
  }

  private async recordHolds(holds: HoldToRecord[]): Promise<void[]> {
    await this.deliveries.recordHolds(holds);
    return holds.map(() => undefined);
  }

  /**
   * Each attempt's row and its delivery's new state, for a whole batch, in one transaction and one round trip (the
   * `record_attempts` procedure, src/deliveries/record_attempts.sql). A delivery retried by hand
   * while its attempt was in flight keeps the retry: the attempt is logged, and the delivery goes out again at once
   * on a fresh schedule (the outcome returned says so). A deadlock victim is run again rather than failing a whole
   * batch of sent webhooks.
   */
  private async record(records: AttemptRecord[]): Promise<AttemptOutcome[]> {
    const recorded = await this.deliveries.recordAttempts(
      records.map(({ deliveryId, attemptNumber, startedAt, result, outcome, manualRetries, agentId, sequence }) => {
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
          agent_id: agentId,
          sequence,
        };
      }),
    );
    return records.map((record): AttemptOutcome => {
      const row = recorded.get(record.deliveryId);
      if ((row?.manualRetries ?? record.manualRetries) !== record.manualRetries) {
        return { kind: 'retry', delayMs: 0, reason: 'retried by hand during this attempt' };
      }
      return record.outcome.kind === 'succeeded' ? { kind: 'succeeded', newerChange: row?.newerChange ?? true } : record.outcome;
    });
  }
}
