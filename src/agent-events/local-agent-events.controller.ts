import { agentEventsController } from './agent-events-controller.factory.js';

export const LocalAgentEventsController = agentEventsController('local');
