import { Body, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { AGENT_EVENT_ERRORS } from './agent-events.errors.js';
import { AgentEventTestService } from './agent-event-test.service.js';
import { AgentEventsService } from './agent-events.service.js';
import { AgentEventResponseDto, CreateAgentEventDto, UpdateAgentEventDto } from './dto/agent-event.dto.js';
import { TestEventResultDto } from './dto/test-event-result.dto.js';

/** The spec's worked example: client 12, local agent 136 on extension 000*094@ringme.ru. */
const EXAMPLE_REQUEST = { event_type: 'agent-login', method: 'GET', url: 'https://hooks.example.com/fordel/show.php' };
const EXAMPLE_RESPONSE = { url: 'https://hooks.example.com/fordel/show.php', method: 'GET', event_type: 'agent-login', id: 150 };

/**
 * The spec's five agent-event operations. Local and remote agents each have a controller (their paths differ):
 * two short subclasses that name their agent type and path; the operations and the service are shared.
 */
@ApiBearerAuth()
@Access('admin', 'client')
export abstract class AgentEventsController {
  protected abstract readonly type: AgentType;

  constructor(
    @Inject(AgentEventsService) readonly events: AgentEventsService,
    @Inject(AgentEventTestService) readonly tests: AgentEventTestService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Add an http event to an agent' })
  @ApiBody({ type: CreateAgentEventDto, examples: { 'spec example': { value: EXAMPLE_REQUEST } } })
  @ApiCreatedResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
  @ApiErrors(...AGENT_EVENT_ERRORS.create)
  create(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Body() dto: CreateAgentEventDto,
  ): Promise<AgentEventResponseDto> {
    return this.events.create(clientId, this.type, agentId, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List the http events of an agent' })
  @ApiOkResponse({ type: AgentEventResponseDto, isArray: true, example: [EXAMPLE_RESPONSE] })
  @ApiErrors(...AGENT_EVENT_ERRORS.list)
  list(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
  ): Promise<AgentEventResponseDto[]> {
    return this.events.list(clientId, this.type, agentId);
  }

  @Get(':event_id')
  @ApiOperation({ summary: 'Get one http event of an agent' })
  @ApiOkResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
  @ApiErrors(...AGENT_EVENT_ERRORS.get)
  get(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
  ): Promise<AgentEventResponseDto> {
    return this.events.get(clientId, this.type, agentId, eventId);
  }

  @Put(':event_id')
  @ApiOperation({ summary: 'Update an http event of an agent' })
  @ApiBody({ type: UpdateAgentEventDto, examples: { 'switch to POST': { value: { method: 'POST' } } } })
  @ApiOkResponse({ type: AgentEventResponseDto, example: EXAMPLE_RESPONSE })
  @ApiErrors(...AGENT_EVENT_ERRORS.update)
  update(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
    @Body() dto: UpdateAgentEventDto,
  ): Promise<AgentEventResponseDto> {
    return this.events.update(clientId, this.type, agentId, eventId, dto);
  }

  @Delete(':event_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an http event of an agent',
    description:
      'Its webhooks still waiting for a receiver (pending deliveries) are cancelled: they end as dead with last_error "cancelled: the agent event was deleted", stay in the delivery log, and can be retried by hand.',
  })
  @ApiNoContentResponse()
  @ApiErrors(...AGENT_EVENT_ERRORS.remove)
  remove(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
  ): Promise<void> {
    return this.events.remove(clientId, this.type, agentId, eventId);
  }

  @Post(':event_id/test')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a test event now',
    description:
      "Sends a sample of what this agent event receives (the agent's real fields, event_source=api, the agent_status of the " +
      'event type) to its URL at once, signed like any webhook and marked by the header `Agent-Event-Test: true`; ' +
      'answers with what the receiver said. Nothing is written to the delivery log.',
  })
  @ApiOkResponse({ type: TestEventResultDto })
  @ApiErrors(...AGENT_EVENT_ERRORS.test)
  test(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
  ): Promise<TestEventResultDto> {
    return this.tests.send(clientId, this.type, agentId, eventId);
  }
}
