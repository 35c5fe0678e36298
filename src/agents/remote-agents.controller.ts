import { agentsController } from './agents-controller.factory.js';
import { CreateRemoteAgentDto, RemoteAgentResponseDto, UpdateRemoteAgentDto } from './dto/remote-agent.dto.js';

export const RemoteAgentsController = agentsController('remote', {
  create: CreateRemoteAgentDto,
  update: UpdateRemoteAgentDto,
  response: RemoteAgentResponseDto,
});
