import type { AgentStatus, AgentType } from './agent-state.js';
import type { EventSource } from './event-source.js';

/**
 * The rules of a status change, as plain functions (unit-tested without a database in status-rules.spec.ts). The
 * events domain service decides with them; the `change_agents` procedure (change_agents.sql) applies the same
 * decisions atomically under each agent's row lock, where the agent's current status is known.
 */

export type EventType = 'agent-login' | 'agent-logout';

/** A change is real when a status was asked for and differs from the agent's: `<>` in change_agents.sql. */
export function isRealChange(current: AgentStatus, requested: AgentStatus | undefined): boolean {
  return requested !== undefined && requested !== current;
}

/** A change to `available` fires `agent-login` subscriptions, to `logged_out` `agent-logout` ones. */
export function eventTypeFor(agentStatus: AgentStatus): EventType {
  return agentStatus === 'available' ? 'agent-login' : 'agent-logout';
}

/** Which of an agent's subscriptions get a delivery of a real change: those of its event type (the procedure's join). */
export function subscriptionsFor<T extends { eventType: EventType }>(agentStatus: AgentStatus, subscriptions: T[]): T[] {
  const eventType = eventTypeFor(agentStatus);
  return subscriptions.filter((subscription) => subscription.eventType === eventType);
}

/** What a status change records (a `status_changes` row), from which each of its webhooks is built when sent. */
export interface StatusChangeFacts {
  agentStatus: AgentStatus;
  agentType: AgentType;
  eventSource: EventSource;
  agentId: number;
  /** The agent's extension_name (local) or agent_number (remote) at the moment of the change. */
  agentName: string | null;
}

/**
 * The spec's AgentEventData, in the spec's order: the one definition of a webhook's payload, for deliveries, test
 * events and the delivery log alike.
 */
export function agentEventPayload(facts: StatusChangeFacts): Record<string, string> {
  const payload: Record<string, string> = {
    agent_status: facts.agentStatus,
    agent_type: facts.agentType,
    event_source: facts.eventSource,
    agent_id: String(facts.agentId),
  };
  if (facts.agentType === 'local') payload.extension_name = facts.agentName ?? '';
  else payload.agent_number = facts.agentName ?? '';
  return payload;
}

/**
 * Splits changes into the rounds of `change_agents` calls: an agent changes at most once per call (a second change
 * of the same agent, asked for at the same moment, goes in the next call, after the first has committed), and each
 * round is in agent id order, the order every call locks agents in. Returns, per round, the indexes of `changes`.
 */
export function planRounds(changes: { agentId: number }[]): number[][] {
  const rounds: number[][] = [];
  let rest = changes.map((_, index) => index);
  while (rest.length > 0) {
    const round: number[] = [];
    const later: number[] = [];
    const agents = new Set<number>();
    for (const index of rest) {
      if (agents.has(changes[index].agentId)) later.push(index);
      else {
        agents.add(changes[index].agentId);
        round.push(index);
      }
    }
    rounds.push(round.sort((a, b) => changes[a].agentId - changes[b].agentId));
    rest = later;
  }
  return rounds;
}
