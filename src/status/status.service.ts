import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Agent, AgentStatus, AgentType } from '../agents/entities/agent.entity.js';
import { newMessageIdBase } from '../common/message-id.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { retryDeadlocks } from '../database/transaction.js';
import { deliveryJobName, type DeliveryJob } from '../delivery-queue/delivery-job.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { eventTypeFor } from './agent-event-payload.js';
import type { EventSource } from './event-source.js';

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
  agent?: Agent;
  changed: boolean;
  /** Outbox rows written with the change: to be enqueued now that it has committed. */
  deliveries: DeliveryJob[];
}

interface AgentRow {
  /** The change's place in the batch sent. */
  position: number;
  id: number;
  clientId: string;
  agentType: AgentType;
  name: string | null;
  agentStatus: AgentStatus;
  statusSequence: number;
  changed: number;
}

/**
 * The events domain service: decides whether an agent's status really changed and, only then, writes the change and
 * its outbox rows. All of it is the `change_agents` procedure (src/database/migrations/…-change-agents-set-based.ts):
 * one round trip and one transaction, with each agent locked first, so concurrent identical requests, in this
 * process or any other, change the status once. Callers enqueue `deliveries`, which have committed.
 *
 * Status changes asked for at the same moment (in one turn of the event loop) share that round trip and its commit;
 * a rename goes alone, so a name that is taken fails only its own request.
 */
@Injectable()
export class StatusService {
  private readonly batches = new MicroBatcher<AgentChange, StatusChangeResult>((changes) => this.run(changes), {
    maxSize: 64,
    maxWaitMs: 0,
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  change(change: AgentChange): Promise<StatusChangeResult> {
    return change.name === undefined ? this.batches.add(change) : this.run([change]).then(([result]) => result);
  }

  /**
   * The batch in rounds: an agent changes at most once per `change_agents` call, so a second change of the same agent
   * (two requests for one agent at the same moment) goes in the next call, after the first has committed.
   */
  private async run(changes: AgentChange[]): Promise<StatusChangeResult[]> {
    const out: StatusChangeResult[] = [];
    let rest = changes.map((change, index) => ({ change, index }));
    while (rest.length > 0) {
      const round: typeof rest = [];
      const later: typeof rest = [];
      const agents = new Set<number>();
      for (const entry of rest) {
        if (agents.has(entry.change.agentId)) {
          later.push(entry);
        } else {
          agents.add(entry.change.agentId);
          round.push(entry);
        }
      }
      const results = await this.call(round.map(({ change }) => change));
      round.forEach(({ index }, position) => (out[index] = results[position]));
      rest = later;
    }
    return out;
  }

  /** One `change_agents` call: changes of distinct agents, sent in agent id order so every call locks in that order. */
  private async call(changes: AgentChange[]): Promise<StatusChangeResult[]> {
    const order = changes.map((_, index) => index).sort((a, b) => changes[a].agentId - changes[b].agentId);
    const json = JSON.stringify(
      order.map((index) => {
        const change = changes[index];
        return {
          client: change.clientId,
          type: change.agentType,
          agent: change.agentId,
          found_by: change.foundBy,
          name: change.name,
          status: change.status,
          source: change.source,
          id_base: newMessageIdBase(),
        };
      }),
    );
    const [agents, deliveries] = (await retryDeadlocks(() => this.dataSource.query('CALL change_agents(?, ?)', [json, new Date()]))) as [
      AgentRow[],
      { position: number; id: string; url: string }[],
    ];
    // Both result sets name each row's change by its place in the batch sent, which is `order`.
    const rows = new Map(agents.map((row) => [order[Number(row.position)], row]));
    const owned = new Map<number, { id: string; url: string }[]>();
    for (const delivery of deliveries) {
      const index = order[Number(delivery.position)];
      if (!owned.has(index)) owned.set(index, []);
      owned.get(index)!.push(delivery);
    }
    return changes.map((change, index) => this.result(change, rows.get(index), owned.get(index) ?? []));
  }

  private result(change: AgentChange, row: AgentRow | undefined, deliveries: { id: string; url: string }[]): StatusChangeResult {
    if (!row) return { changed: false, deliveries: [] };
    const agent = {
      id: Number(row.id),
      clientId: row.clientId,
      agentType: row.agentType,
      extensionName: row.agentType === 'local' ? row.name : null,
      agentNumber: row.agentType === 'remote' ? row.name : null,
      agentStatus: row.agentStatus,
      statusSequence: Number(row.statusSequence),
    } as Agent;
    if (!row.changed) return { agent, changed: false, deliveries: [] };
    this.metrics.statusChanged(change.source);
    const eventType = eventTypeFor(agent.agentStatus);
    const jobs = deliveries.map(({ id, url }) => ({
      deliveryId: id,
      name: deliveryJobName({ clientId: agent.clientId, agentType: agent.agentType, agentId: agent.id, eventType, url }),
    }));
    return { agent, changed: true, deliveries: jobs };
  }
}
