import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AgentType } from '../agents/entities/agent.entity.js';
import { Access } from '../common/access.decorator.js';
import { AgentTypePipe } from '../agents/agent-type.pipe.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe, PositiveIntPipe } from '../common/id-params.js';
import { DELIVERY_ERRORS } from './delivery-log.errors.js';
import { DeliveryLogService } from './delivery-log.service.js';
import { StateSyncService } from './state-sync.service.js';
import { ClientDeliveryQueryDto, DeliveryDetailDto, DeliveryPageDto, DeliveryPageQueryDto } from './dto/delivery.dto.js';

@ApiTags('deliveries')
@ApiBearerAuth()
@Access('admin', 'client')
@Controller('client/:client_id')
export class DeliveryLogController {
  constructor(
    private readonly log: DeliveryLogService,
    private readonly syncs: StateSyncService,
  ) {}

  @Get('agent/:agent_type/:agent_id/event/:event_id/delivery')
  @ApiOperation({ summary: 'The deliveries of one agent event, newest first' })
  @ApiParam({ name: 'agent_type', enum: ['local', 'remote'] })
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiErrors(...DELIVERY_ERRORS.listForEvent)
  listForEvent(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_type', AgentTypePipe) type: AgentType,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
    @Query() query: DeliveryPageQueryDto,
  ): Promise<DeliveryPageDto> {
    return this.log.listForEvent(clientId, type, agentId, eventId, query.page, query.per_page);
  }

  @Post('agent/:agent_type/:agent_id/event/:event_id/sync')
  @HttpCode(202)
  @ApiOperation({
    summary: "Send the agent's current state to this agent event's URL now",
    description:
      'A delivery of kind `sync`: queued, retried and logged like any webhook, signed, marked by the header ' +
      '`Agent-Event-Sync: true`, and carrying in `Agent-Event-Sequence` the sequence of the status change it reflects ' +
      '(0 for an agent that never changed), so a receiver that already has a newer one drops it. It goes after the ' +
      "agent's older deliveries to the same URL, and a newer change's delivery goes after it. Answers with the delivery.",
  })
  @ApiParam({ name: 'agent_type', enum: ['local', 'remote'] })
  @ApiAcceptedResponse({ type: DeliveryDetailDto })
  @ApiErrors(...DELIVERY_ERRORS.sync)
  sync(
    @Param('client_id', ClientIdPipe) clientId: string,
    @Param('agent_type', AgentTypePipe) type: AgentType,
    @Param('agent_id', PositiveIntPipe) agentId: number,
    @Param('event_id', PositiveIntPipe) eventId: number,
  ): Promise<DeliveryDetailDto> {
    return this.syncs.sync(clientId, type, agentId, eventId);
  }

  @Get('delivery')
  @ApiOperation({ summary: "The client's deliveries, newest first, optionally of one state" })
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiErrors(...DELIVERY_ERRORS.listForClient)
  listForClient(@Param('client_id', ClientIdPipe) clientId: string, @Query() query: ClientDeliveryQueryDto): Promise<DeliveryPageDto> {
    return this.log.listForClient(clientId, query.state, query.page, query.per_page);
  }

  @Get('delivery/:delivery_id')
  @ApiOperation({ summary: 'One delivery with its payload and every attempt' })
  @ApiOkResponse({ type: DeliveryDetailDto })
  @ApiErrors(...DELIVERY_ERRORS.get)
  get(@Param('client_id', ClientIdPipe) clientId: string, @Param('delivery_id') deliveryId: string): Promise<DeliveryDetailDto> {
    return this.log.get(clientId, deliveryId);
  }

  @Post('delivery/:delivery_id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a delivery again now, whatever its state, with the same webhook-id' })
  @ApiAcceptedResponse({ type: DeliveryDetailDto })
  @ApiErrors(...DELIVERY_ERRORS.retry)
  retry(@Param('client_id', ClientIdPipe) clientId: string, @Param('delivery_id') deliveryId: string): Promise<DeliveryDetailDto> {
    return this.log.retry(clientId, deliveryId);
  }
}
