import { Body, Controller, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { AGENT_ERRORS } from './agents.errors.js';
import { AgentsController, CreateAgentOperation, UpdateAgentOperation } from './agents.controller.js';
import type { AgentResponse } from './agents.service.js';
import { CreateRemoteAgentDto, RemoteAgentResponseDto, UpdateRemoteAgentDto } from './dto/remote-agent.dto.js';

@ApiTags('remote agents')
@Controller('client/:client_id/agent/remote')
export class RemoteAgentsController extends AgentsController {
  protected readonly type = 'remote';

  @CreateAgentOperation(CreateRemoteAgentDto, RemoteAgentResponseDto, AGENT_ERRORS.createRemote)
  create(@Param('client_id', ClientIdPipe) clientId: string, @Body() body: CreateRemoteAgentDto): Promise<AgentResponse> {
    return this.agents.create(clientId, this.type, body);
  }

  @UpdateAgentOperation(UpdateRemoteAgentDto, RemoteAgentResponseDto, AGENT_ERRORS.updateRemote)
  update(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Body() body: UpdateRemoteAgentDto,
  ): Promise<AgentResponse> {
    return this.agents.update(clientId, this.type, agentId, body);
  }
}
