import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { AgentEventsService } from './agent-events.service.js';
import { AgentEventResponseDto, CreateAgentEventDto, UpdateAgentEventDto } from './dto/agent-event.dto.js';

/** The spec's worked example: client 12, local agent 136 on extension 000*094@ringme.ru. */
const EXAMPLE_REQUEST = { event_type: 'agent-login', method: 'GET', url: 'https://somehost.com/fordel/show.php' };
const EXAMPLE_RESPONSE = { url: 'https://somehost.com/fordel/show.php', method: 'GET', event_type: 'agent-login', id: 150 };

/** The spec's five agent-event operations for one agent type; local and remote get a class each, one service. */
export function agentEventsController(type: AgentType) {
  const op = (name: string, summary: string) => ApiOperation({ operationId: `${type}AgentEvents_${name}`, summary });

  @ApiTags(`${type} agent events`)
  @ApiBearerAuth()
  @Access('admin', 'client')
  @Controller(`client/:client_id/agent/${type}/:agent_id/event`)
  class AgentEventsController {
    constructor(@Inject(AgentEventsService) readonly events: AgentEventsService) {}

    @Post()
    @op('create', `Add an http event to a ${type} agent`)
    @ApiBody({ type: CreateAgentEventDto, examples: { 'spec example': { value: EXAMPLE_REQUEST } } })
    @ApiCreatedResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
    @ApiErrors(400, 401, 403, 404)
    create(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
      @Body() dto: CreateAgentEventDto,
    ): Promise<AgentEventResponseDto> {
      return this.events.create(clientId, type, agentId, dto);
    }

    @Get()
    @op('list', `List the http events of a ${type} agent`)
    @ApiOkResponse({ type: AgentEventResponseDto, isArray: true, example: [EXAMPLE_RESPONSE] })
    @ApiErrors(400, 401, 403, 404)
    list(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
    ): Promise<AgentEventResponseDto[]> {
      return this.events.list(clientId, type, agentId);
    }

    @Get(':event_id')
    @op('get', `Get one http event of a ${type} agent`)
    @ApiOkResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
    @ApiErrors(400, 401, 403, 404)
    get(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
      @Param('event_id', PositiveIntPipe) eventId: number,
    ): Promise<AgentEventResponseDto> {
      return this.events.get(clientId, type, agentId, eventId);
    }

    @Put(':event_id')
    @op('update', `Update an http event of a ${type} agent`)
    @ApiBody({ type: UpdateAgentEventDto, examples: { 'switch to POST': { value: { method: 'POST' } } } })
    @ApiOkResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
    @ApiErrors(400, 401, 403, 404)
    update(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
      @Param('event_id', PositiveIntPipe) eventId: number,
      @Body() dto: UpdateAgentEventDto,
    ): Promise<AgentEventResponseDto> {
      return this.events.update(clientId, type, agentId, eventId, dto);
    }

    @Delete(':event_id')
    @HttpCode(204)
    @op('delete', `Delete an http event of a ${type} agent`)
    @ApiNoContentResponse()
    @ApiErrors(400, 401, 403, 404)
    remove(
      @Param('client_id', ClientIdPipe) clientId: string,
      @Param('agent_id', PositiveIntPipe) agentId: number,
      @Param('event_id', PositiveIntPipe) eventId: number,
    ): Promise<void> {
      return this.events.remove(clientId, type, agentId, eventId);
    }
  }
  Object.defineProperty(AgentEventsController, 'name', { value: `${type === 'local' ? 'Local' : 'Remote'}AgentEventsController` });
  return AgentEventsController;
}
