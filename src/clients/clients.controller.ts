import { Body, Controller, Get, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
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
  @ApiErrors(400, 401, 403, 409)
  create(@Body() dto: CreateClientDto): Promise<ClientResponseDto> {
    return this.clients.create(dto);
  }

  @Get(':client_id')
  @Access('admin', 'client')
  @ApiOperation({ summary: 'Get a client' })
  @ApiErrors(400, 401, 403, 404)
  get(@Param('client_id', ClientIdPipe) clientId: string): Promise<ClientResponseDto> {
    return this.clients.get(clientId);
  }

  @Get(':client_id/limit')
  @Access('admin', 'client')
  @ApiOperation({ summary: "Read the client's limits: the most agent events it may have, how many it has, and its requests per hour" })
  @ApiErrors(400, 401, 403, 404)
  getLimit(@Param('client_id', ClientIdPipe) clientId: string): Promise<LimitResponseDto> {
    return this.clients.getLimit(clientId);
  }

  @Put(':client_id/limit')
  @Access('admin')
  @ApiOperation({ summary: "Change the client's agent event limit and, optionally, its requests per hour (admin)" })
  @ApiErrors(400, 401, 403, 404)
  setLimit(@Param('client_id', ClientIdPipe) clientId: string, @Body() dto: UpdateLimitDto): Promise<LimitResponseDto> {
    return this.clients.setLimit(clientId, dto);
  }
}
