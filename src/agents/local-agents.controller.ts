import { agentsController } from './agents-controller.factory.js';
import { CreateLocalAgentDto, LocalAgentResponseDto, UpdateLocalAgentDto } from './dto/local-agent.dto.js';

export const LocalAgentsController = agentsController('local', {
  create: CreateLocalAgentDto,
  update: UpdateLocalAgentDto,
  response: LocalAgentResponseDto,
});
