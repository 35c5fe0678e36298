import { agentEventsController } from './agent-events-controller.factory.js';

export const RemoteAgentEventsController = agentEventsController('remote');
