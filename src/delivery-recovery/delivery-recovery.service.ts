import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ulid } from 'ulid';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { DeliveriesRepository, type RecoveryRow } from '../deliveries/deliveries.repository.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import type { RecoveryDetailDto, RecoveryDto, StartRecoveryDto } from './dto/recovery.dto.js';

/** A recovery's jobs go to Redis this many at a time: one round trip to find their old jobs, one addBulk. */
const ENQUEUE_CHUNK = 500;

function toView(row: RecoveryRow): RecoveryDto {
  return {
    id: row.id,
    matched: Number(row.matched),
    queued: Number(row.queued),
    since: row.since.toISOString(),
    agent_event_id: row.agent_event_id === null ? null : Number(row.agent_event_id),
    state: row.state,
    created_at: row.created_at.toISOString(),
  };
}

/**
 * Bulk recovery after an outage: a client's dead deliveries sent again, the newest of each agent to each URL only
 * (an older one would replay a state the agent has left; the status-change feed keeps the history). The jobs queue
 * with the client's fair share, behind its own count, so other clients' webhooks still go first.
 */
@Injectable()
export class DeliveryRecoveryService implements OnModuleDestroy {
  private readonly logger = new Logger(DeliveryRecoveryService.name);
  /** Enqueues still running after their request answered; shutdown waits for them. */
  private readonly enqueuing = new Set<Promise<void>>();

  constructor(
    private readonly deliveries: DeliveriesRepository,
    private readonly clients: ClientsService,
    private readonly queue: DeliveryQueueService,
  ) {}

  /**
   * Marks the deliveries in one transaction, answers, and enqueues their jobs after the commit without holding the
   * answer. The rows are pending and due from the commit on: a job that is not added (Redis away, the process gone)
   * is added by the reconciler.
   */
  async start(clientId: string, body: StartRecoveryDto): Promise<RecoveryDto> {
    await this.clients.require(clientId);
    const { recovery, resent } = await this.deliveries.startRecovery({
      id: `rec_${ulid()}`,
      client_id: clientId,
      since: new Date(body.since),
      agent_event_id: body.agent_event_id ?? null,
      state: body.state,
      created_at: new Date(),
    });
    const enqueuing = this.enqueue(recovery.id, clientId, resent).finally(() => this.enqueuing.delete(enqueuing));
    this.enqueuing.add(enqueuing);
    return toView(recovery);
  }

  async get(clientId: string, recoveryId: string): Promise<RecoveryDetailDto> {
    const row = await this.deliveries.recovery(clientId, recoveryId);
    if (!row) {
      await this.clients.require(clientId);
      throw ApiError.notFound('recovery_not_found', `Client ${clientId} has no recovery ${recoveryId}.`);
    }
    const progress = await this.deliveries.recoveryProgress(recoveryId);
    return { ...toView(row), progress, done: progress.pending === 0 };
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.enqueuing);
  }

  /** In the order of their changes, a chunk at a time; their dead deliveries' finished jobs are replaced. */
  private async enqueue(recoveryId: string, clientId: string, ids: string[]): Promise<void> {
    try {
      for (let start = 0; start < ids.length; start += ENQUEUE_CHUNK) {
        const chunk = ids.slice(start, start + ENQUEUE_CHUNK);
        const toAdd = new Set(await this.queue.withoutLiveJob(chunk.map((id) => ({ id, clientId }))));
        await this.queue.enqueue((await this.deliveries.jobsOf(chunk)).filter((job) => toAdd.has(job.deliveryId)));
      }
    } catch (error) {
      this.logger.warn(`enqueue of recovery ${recoveryId} deferred to the reconciler: ${(error as Error).message}`);
    }
  }
}
