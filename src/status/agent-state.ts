/** An agent's type and status: the vocabulary of a status change (the agents table stores them). */
export const AGENT_TYPES = ['local', 'remote'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];
export const AGENT_STATUSES = ['available', 'logged_out'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** An agent as a status change leaves it. */
export interface AgentState {
  id: number;
  clientId: string;
  agentType: AgentType;
  extensionName: string | null;
  agentNumber: string | null;
  agentStatus: AgentStatus;
  statusSequence: number;
}
