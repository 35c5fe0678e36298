import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, type Type } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { bodyPipe } from '../common/validation.js';
import { AgentsService, type AgentFields, type AgentResponse } from './agents.service.js';
import type { AgentType } from './entities/agent.entity.js';

interface AgentDtos {
  create: Type<object>;
  update: Type<object>;
  response: Type<object>;
}

/** One controller class per agent type (their paths and bodies differ), all sharing AgentsService. */
export function agentsController(type: AgentType, dtos: AgentDtos) {
  const op = (name: string, summary: string) => ApiOperation({ operationId: `${type}Agents_${name}`, summary });

  @ApiTags(`${type} agents`)
  @ApiBearerAuth()
  @Access('admin', 'client')
  @Controller(`client/:client_id/agent/${type}`)
  class AgentsController {
    constructor(@Inject(AgentsService) readonly agents: AgentsService) {}

    @Post()
    @op('create', `Create a ${type} agent (logged out)`)
    @ApiBody({ type: dtos.create })
    @ApiCreatedResponse({ type: dtos.response })
    @ApiErrors(400, 401, 403, 404, 409)
    create(@Param('client_id', ClientIdPipe) clientId: string, @Body(bodyPipe(dtos.create)) body: AgentFields): Promise<AgentResponse> {
      return this.agents.create(clientId, type, body);
    }

    @Get()
    @op('list', `List the client's ${type} agents`)
    @ApiOkResponse({ type: dtos.response, isArray: true })
    @ApiErrors(400, 401, 403, 404)
    list(@Param('client_id', ClientIdPipe) clientId: string): Promise<AgentResponse[]> {
      return this.agents.list(clientId, type);
    }

    @Get(':agent_id')
    @op('get', `Get a ${type} agent`)
    @ApiOkResponse({ type: dtos.response })
    @ApiErrors(400, 401, 403, 404)
    get(@Param('client_id', ClientIdPipe) clientId: string, @Param('agent_id', PositiveIntPipe) agentId: number): Promise<AgentResponse> {
      return this.agents.get(clientId, type, agentId);
    }

    @Put(':agent_id')
    @op('update', `Rename a ${type} agent and/or change its status (a real change fires its agent events with event_source=api)`)
    @ApiBody({ type: dtos.update })
    @ApiOkResponse({ type: dtos.response })
    @ApiErrors(400, 401, 403, 404, 409)
    update(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
      @Body(bodyPipe(dtos.update)) body: AgentFields,
    ): Promise<AgentResponse> {
      return this.agents.update(clientId, type, agentId, body);
    }

    @Delete(':agent_id')
    @HttpCode(204)
    @op('delete', `Delete a ${type} agent and its agent events`)
    @ApiNoContentResponse()
    @ApiErrors(400, 401, 403, 404)
    remove(@Param('client_id', ClientIdPipe) clientId: string, @Param('agent_id', PositiveIntPipe) agentId: number): Promise<void> {
      return this.agents.remove(clientId, type, agentId);
    }
  }
  Object.defineProperty(AgentsController, 'name', { value: `${type === 'local' ? 'Local' : 'Remote'}AgentsController` });
  return AgentsController;
}
