import { applyDecorators, Delete, Get, HttpCode, Inject, Param, Post, Put, type Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  getSchemaPath,
} from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors, type ErrorExample } from '../common/api-errors.decorator.js';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { AGENT_ERRORS } from './agents.errors.js';
import { AgentsService, type AgentResponse } from './agents.service.js';
import { LocalAgentResponseDto } from './dto/local-agent.dto.js';
import { RemoteAgentResponseDto } from './dto/remote-agent.dto.js';
import type { AgentType } from './entities/agent.entity.js';

const EITHER_AGENT = { oneOf: [{ $ref: getSchemaPath(LocalAgentResponseDto) }, { $ref: getSchemaPath(RemoteAgentResponseDto) }] };

/** The create operation's route and documentation; the subclass declares the body of its agent type. */
export const CreateAgentOperation = (body: Type, response: Type, errors: ErrorExample[]) =>
  applyDecorators(
    Post(),
    ApiOperation({ summary: 'Create an agent (logged out)' }),
    ApiBody({ type: body }),
    ApiCreatedResponse({ type: response }),
    ApiErrors(...errors),
  );

/** The update operation's route and documentation; the subclass declares the body of its agent type. */
export const UpdateAgentOperation = (body: Type, response: Type, errors: ErrorExample[]) =>
  applyDecorators(
    Put(':agent_id'),
    ApiOperation({ summary: 'Rename an agent and/or change its status (a real change fires its agent events with event_source=api)' }),
    ApiBody({ type: body }),
    ApiOkResponse({ type: response }),
    ApiErrors(...errors),
  );

/**
 * Local and remote agents each have a controller (their paths and the field that names them differ): two short
 * subclasses that name their agent type and declare create and update with their own bodies. The rest is shared,
 * and so is AgentsService.
 */
@ApiBearerAuth()
@Access('admin', 'client')
@ApiExtraModels(LocalAgentResponseDto, RemoteAgentResponseDto)
export abstract class AgentsController {
  protected abstract readonly type: AgentType;

  constructor(@Inject(AgentsService) protected readonly agents: AgentsService) {}

  @Get()
  @ApiOperation({ summary: "List the client's agents" })
  @ApiOkResponse({ schema: { type: 'array', items: EITHER_AGENT } })
  @ApiErrors(...AGENT_ERRORS.list)
  list(@Param('client_id', ClientIdPipe) clientId: string): Promise<AgentResponse[]> {
    return this.agents.list(clientId, this.type);
  }

  @Get(':agent_id')
  @ApiOperation({ summary: 'Get an agent' })
  @ApiOkResponse({ schema: EITHER_AGENT })
  @ApiErrors(...AGENT_ERRORS.get)
  get(@Param('client_id', ClientIdPipe) clientId: string, @Param('agent_id', PositiveIntPipe) agentId: number): Promise<AgentResponse> {
    return this.agents.get(clientId, this.type, agentId);
  }

  @Delete(':agent_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an agent and its agent events',
    description:
      'Its webhooks still waiting for a receiver (pending deliveries) are cancelled: they end as dead with last_error "cancelled: the agent was deleted", stay in the delivery log, and can be retried by hand.',
  })
  @ApiNoContentResponse()
  @ApiErrors(...AGENT_ERRORS.remove)
  remove(@Param('client_id', ClientIdPipe) clientId: string, @Param('agent_id', PositiveIntPipe) agentId: number): Promise<void> {
    return this.agents.remove(clientId, this.type, agentId);
  }
}
