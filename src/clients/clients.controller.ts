import { Body, Controller, Get, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
import { CLIENT_ERRORS } from './clients.errors.js';
import { ClientsService } from './clients.service.js';
import { ClientResponseDto, CreateClientDto } from './dto/create-client.dto.js';
import { LimitResponseDto, UpdateLimitDto } from './dto/limit.dto.js';

@ApiTags('clients')
@ApiBearerAuth()
@Controller('client')
export class ClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  @Access('admin')
  @ApiOperation({ summary: 'Create a client (admin)' })
  @ApiCreatedResponse({ type: ClientResponseDto })
  @ApiErrors(...CLIENT_ERRORS.create)
  create(@Body() dto: CreateClientDto): Promise<ClientResponseDto> {
    return this.clients.create(dto);
  }

  @Get(':client_id')
  @Access('admin', 'client')
  @ApiOperation({ summary: 'Get a client' })
  @ApiOkResponse({ type: ClientResponseDto })
  @ApiErrors(...CLIENT_ERRORS.get)
  get(@Param('client_id', ClientIdPipe) clientId: string): Promise<ClientResponseDto> {
    return this.clients.get(clientId);
  }

  @Get(':client_id/limit')
  @Access('admin', 'client')
  @ApiOperation({ summary: "Read the client's limits: the most agent events it may have, how many it has, and its requests per hour" })
  @ApiOkResponse({ type: LimitResponseDto })
  @ApiErrors(...CLIENT_ERRORS.getLimit)
  getLimit(@Param('client_id', ClientIdPipe) clientId: string): Promise<LimitResponseDto> {
    return this.clients.getLimit(clientId);
  }

  @Put(':client_id/limit')
  @Access('admin')
  @ApiOperation({ summary: "Change the client's agent event limit and, optionally, its requests per hour (admin)" })
  @ApiOkResponse({ type: LimitResponseDto })
  @ApiErrors(...CLIENT_ERRORS.setLimit)
  setLimit(@Param('client_id', ClientIdPipe) clientId: string, @Body() dto: UpdateLimitDto): Promise<LimitResponseDto> {
    return this.clients.setLimit(clientId, dto);
  }
}
