import { Body, Controller, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { AGENT_ERRORS } from './agents.errors.js';
import { AgentsController, CreateAgentOperation, UpdateAgentOperation } from './agents.controller.js';
import type { AgentResponse } from './agents.service.js';
import { CreateLocalAgentDto, LocalAgentResponseDto, UpdateLocalAgentDto } from './dto/local-agent.dto.js';

@ApiTags('local agents')
@Controller('client/:client_id/agent/local')
export class LocalAgentsController extends AgentsController {
  protected readonly type = 'local';

  @CreateAgentOperation(CreateLocalAgentDto, LocalAgentResponseDto, AGENT_ERRORS.createLocal)
  create(@Param('client_id', ClientIdPipe) clientId: string, @Body() body: CreateLocalAgentDto): Promise<AgentResponse> {
    return this.agents.create(clientId, this.type, body);
  }

  @UpdateAgentOperation(UpdateLocalAgentDto, LocalAgentResponseDto, AGENT_ERRORS.updateLocal)
  update(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Body() body: UpdateLocalAgentDto,
  ): Promise<AgentResponse> {
    return this.agents.update(clientId, this.type, agentId, body);
  }
}
