import { Injectable } from '@nestjs/common';
import type { AgentState, AgentStatus, AgentType } from './agent-state.js';
import { newMessageIdBase } from '../common/message-id.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { deliveryJob, type DeliveryJob } from '../delivery-queue/delivery-job.js';
import { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { EventSource } from './event-source.js';
import { StatusChangesRepository, type AppliedAgentRow, type ChangeToApply, type NewDeliveryRow } from './status-changes.repository.js';
import { eventTypeFor, planRounds } from './status-rules.js';

export interface AgentChange {
  clientId: string;
  agentType: AgentType;
  agentId: number;
  /** A change from the phone: the name the agent was looked up by, which it must still have under the lock. */
  foundBy?: string;
  /** A new extension_name or agent_number; left out: unchanged. */
  name?: string;
  /** The new status; left out: unchanged. */
  status?: AgentStatus;
  source: EventSource;
}

export interface StatusChangeResult {
  /** The agent after the change; undefined when it is not there (or no longer has the name it was found by). */
  agent?: AgentState;
  changed: boolean;
  /** Outbox rows written with the change, committed and handed to the delivery queue. */
  deliveries: DeliveryJob[];
}

/**
 * The events domain service. It decides with the rules of status-rules.ts (a real change, the event type a status
 * fires, which subscriptions get a delivery, the payload), has the repository apply them atomically — each agent
 * locked first, one round trip and one transaction for a batch, so concurrent identical requests, in this process or
 * any other, change the status once — and then, once the change has committed, hands its deliveries to the queue:
 * the one place where "commit, then enqueue" happens.
 *
 * Status changes asked for at the same moment (in one turn of the event loop) share that round trip and its commit;
 * a rename goes alone, so a name that is taken fails only its own request.
 */
@Injectable()
export class StatusService {
  private readonly batches = new MicroBatcher<AgentChange, StatusChangeResult>((changes) => this.run(changes), {
    maxSize: 64,
    maxInFlight: 2,
  });

  constructor(
    private readonly repository: StatusChangesRepository,
    private readonly queue: DeliveryQueueService,
    private readonly metrics: MetricsService,
  ) {}

  /** Applies the change; its deliveries are committed and enqueued when this resolves. */
  async change(change: AgentChange): Promise<StatusChangeResult> {
    const result = change.name === undefined ? await this.batches.add(change) : (await this.run([change]))[0];
    await this.queue.enqueueAfterCommit(result.deliveries);
    return result;
  }

  /** The batch in rounds (planRounds): an agent changes at most once per call, in agent id order. */
  private async run(changes: AgentChange[]): Promise<StatusChangeResult[]> {
    const out: StatusChangeResult[] = [];
    for (const round of planRounds(changes)) {
      const results = await this.apply(round.map((index) => changes[index]));
      round.forEach((index, position) => (out[index] = results[position]));
    }
    return out;
  }

  /** One `change_agents` call: changes of distinct agents, already in agent id order. */
  private async apply(changes: AgentChange[]): Promise<StatusChangeResult[]> {
    const batch: ChangeToApply[] = changes.map((change) => ({
      client: change.clientId,
      type: change.agentType,
      agent: change.agentId,
      found_by: change.foundBy,
      name: change.name,
      status: change.status,
      event_type: change.status === undefined ? undefined : eventTypeFor(change.status),
      source: change.source,
      id_base: newMessageIdBase(),
    }));
    const { agents, deliveries } = await this.repository.apply(batch, new Date());
    const rows = new Map(agents.map((row) => [Number(row.position), row]));
    const owned = new Map<number, NewDeliveryRow[]>();
    for (const delivery of deliveries) {
      const position = Number(delivery.position);
      if (!owned.has(position)) owned.set(position, []);
      owned.get(position)!.push(delivery);
    }
    return changes.map((change, position) => this.result(change, rows.get(position), owned.get(position) ?? []));
  }

  private result(change: AgentChange, row: AppliedAgentRow | undefined, deliveries: NewDeliveryRow[]): StatusChangeResult {
    if (!row) return { changed: false, deliveries: [] };
    const agent: AgentState = {
      id: Number(row.id),
      clientId: row.clientId,
      agentType: row.agentType,
      extensionName: row.agentType === 'local' ? row.name : null,
      agentNumber: row.agentType === 'remote' ? row.name : null,
      agentStatus: row.agentStatus,
      statusSequence: Number(row.statusSequence),
    };
    if (!row.changed) return { agent, changed: false, deliveries: [] };
    this.metrics.statusChanged(change.source);
    const eventType = eventTypeFor(agent.agentStatus);
    const jobs = deliveries.map(({ id, url }) =>
      deliveryJob(id, { clientId: agent.clientId, agentType: agent.agentType, agentId: agent.id, eventType, url }),
    );
    return { agent, changed: true, deliveries: jobs };
  }
}
