import type { AgentType } from './entities/agent.entity.js';

/** What differs between local and remote agents: the one field that names them. */
export interface AgentKind {
  type: AgentType;
  nameField: 'extension_name' | 'agent_number';
  column: 'extensionName' | 'agentNumber';
}

export const AGENT_KINDS: Record<AgentType, AgentKind> = {
  local: { type: 'local', nameField: 'extension_name', column: 'extensionName' },
  remote: { type: 'remote', nameField: 'agent_number', column: 'agentNumber' },
};
