import type { Agent, AgentStatus } from '../agents/entities/agent.entity.js';
import type { EventSource } from './event-source.js';

/** The spec's AgentEventData, in the spec's order; frozen into each delivery row when the change happens. */
export function agentEventPayload(agent: Agent, agentStatus: AgentStatus, eventSource: EventSource): Record<string, string> {
  const payload: Record<string, string> = {
    agent_status: agentStatus,
    agent_type: agent.agentType,
    event_source: eventSource,
    agent_id: String(agent.id),
  };
  if (agent.agentType === 'local') payload.extension_name = agent.extensionName ?? '';
  else payload.agent_number = agent.agentNumber ?? '';
  return payload;
}

/** A change to `available` fires `agent-login` subscriptions, to `logged_out` `agent-logout` ones. */
export function eventTypeFor(agentStatus: AgentStatus) {
  return agentStatus === 'available' ? ('agent-login' as const) : ('agent-logout' as const);
}
