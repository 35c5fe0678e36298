import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { generateSigningSecret } from '../../libs/webhook/src/index.js';
import { AgentEvent } from '../agent-events/entities/agent-event.entity.js';
import { ApiError } from '../common/api-error.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import type { ClientResponseDto, CreateClientDto } from './dto/create-client.dto.js';
import type { LimitResponseDto } from './dto/limit.dto.js';
import { Client } from './entities/client.entity.js';

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string })?.code === 'ER_DUP_ENTRY';
}

@Injectable()
export class ClientsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateClientDto): Promise<ClientResponseDto> {
    const client = this.dataSource.getRepository(Client).create({
      id: dto.id ?? randomBytes(6).toString('hex'),
      name: dto.name,
      agentEventLimit: this.config.defaultAgentEventLimit,
      signingSecret: generateSigningSecret(),
      previousSigningSecret: null,
      secretRotatedAt: null,
    });
    try {
      await this.dataSource.getRepository(Client).insert(client);
    } catch (error) {
      if (isDuplicateKey(error)) throw new ApiError(HttpStatus.CONFLICT, 'client_exists', `Client ${client.id} already exists.`);
      throw error;
    }
    return { id: client.id, name: client.name };
  }

  async get(clientId: string): Promise<ClientResponseDto> {
    const client = await this.require(clientId);
    return { id: client.id, name: client.name };
  }

  /** The client, or 404 `client_not_found`; `lock` holds its row until the transaction ends. */
  async require(clientId: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<Client> {
    const client = await manager.getRepository(Client).findOne({
      where: { id: clientId },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!client) throw ApiError.notFound('client_not_found', `Client ${clientId} does not exist.`);
    return client;
  }

  async getLimit(clientId: string): Promise<LimitResponseDto> {
    const client = await this.require(clientId);
    const count = await this.dataSource.getRepository(AgentEvent).countBy({ clientId });
    return { agent_event_limit: client.agentEventLimit, agent_event_count: count };
  }

  async setLimit(clientId: string, limit: number): Promise<LimitResponseDto> {
    await this.require(clientId);
    await this.dataSource.getRepository(Client).update({ id: clientId }, { agentEventLimit: limit });
    return this.getLimit(clientId);
  }
}
