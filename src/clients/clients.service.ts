import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { generateSigningSecret } from '#webhook';
import { ApiError } from '../common/api-error.js';
import { TtlCache } from '../common/ttl-cache.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { isDuplicateKey } from '../database/duplicate-key.js';
import { transaction } from '../database/transaction.js';
import type { ClientResponseDto, CreateClientDto } from './dto/create-client.dto.js';
import type { LimitResponseDto, UpdateLimitDto } from './dto/limit.dto.js';
import { ClientsRepository } from './clients.repository.js';
import type { Client } from './entities/client.entity.js';

/** How long a process keeps a client's request budget; the admin's change applies within this bound everywhere. */
export const RATE_LIMIT_CACHE_MS = 5000;

@Injectable()
export class ClientsService {
  /** Client id → its own requests per hour (null: the default), so the rate limit costs no query per request. */
  private readonly rateLimits = new TtlCache<string, number | null>(RATE_LIMIT_CACHE_MS);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ClientsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateClientDto): Promise<ClientResponseDto> {
    const client = {
      id: dto.id ?? randomBytes(6).toString('hex'),
      name: dto.name,
      agentEventLimit: this.config.defaultAgentEventLimit,
      agentEventCount: 0,
      signingSecret: generateSigningSecret(),
      previousSigningSecret: null,
      secretRotatedAt: null,
    };
    try {
      await this.repository.insert(client);
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
    const client = await this.repository.find(clientId, manager, lock);
    if (!client) throw ApiError.notFound('client_not_found', `Client ${clientId} does not exist.`);
    return client;
  }

  async getLimit(clientId: string): Promise<LimitResponseDto> {
    const client = await this.require(clientId);
    return {
      agent_event_limit: client.agentEventLimit,
      agent_event_count: client.agentEventCount,
      rate_limit_per_hour: client.rateLimitPerHour ?? this.config.rateLimitPerHour,
    };
  }

  /** One statement, and the answer read under its lock: the count it shows is the one the new limit applies to. */
  async setLimit(clientId: string, dto: UpdateLimitDto): Promise<LimitResponseDto> {
    const limits = await transaction(this.dataSource, async (manager) => {
      const updated = await this.repository.setLimits(manager, clientId, dto.agent_event_limit, dto.rate_limit_per_hour);
      if (!updated) throw ApiError.notFound('client_not_found', `Client ${clientId} does not exist.`);
      const client = await this.require(clientId, manager);
      return {
        agent_event_limit: client.agentEventLimit,
        agent_event_count: client.agentEventCount,
        rate_limit_per_hour: client.rateLimitPerHour ?? this.config.rateLimitPerHour,
      };
    });
    this.rateLimits.delete(clientId);
    return limits;
  }

  /** Requests per hour the client's tokens may make: its own budget or the default, read at most once per RATE_LIMIT_CACHE_MS. */
  async rateLimitPerHour(clientId: string): Promise<number> {
    let own = this.rateLimits.get(clientId);
    if (own === undefined) {
      own = await this.repository.rateLimitPerHour(clientId);
      this.rateLimits.set(clientId, own);
    }
    return own ?? this.config.rateLimitPerHour;
  }
}
