import { Injectable } from '@nestjs/common';
import { hash } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { TtlCache } from '../common/ttl-cache.js';
import { ApplicationsRepository } from './applications.repository.js';
import type { ApplicationResponseDto, CreatedApplicationDto } from './dto/application.dto.js';
import type { Application } from './entities/application.entity.js';

/**
 * How long a process trusts what it read about an application. A deleted application's tokens stop working at
 * once in the process that deleted it, and within this bound in every other API process.
 */
export const APPLICATION_CACHE_MS = 5000;

const APPLICATION_ID = /^[0-9a-f]{24}$/;

/** What token issuing and checking need to know about an application. */
export interface LiveApplication {
  id: string;
  clientId: string;
  secretHash: string;
}

@Injectable()
export class ApplicationsService {
  /** Application id → the application, or null when it does not exist (so unknown ids cost no query either). */
  private readonly live = new TtlCache<string, LiveApplication | null>(APPLICATION_CACHE_MS);

  constructor(
    private readonly repository: ApplicationsRepository,
    private readonly clients: ClientsService,
  ) {}

  async create(clientId: string, name: string): Promise<CreatedApplicationDto> {
    await this.clients.require(clientId);
    const secret = randomBytes(32).toString('base64url');
    const application = await this.repository.insert({
      id: randomBytes(12).toString('hex'),
      clientId,
      name,
      secretHash: await hash(secret),
      createdAt: new Date(),
    });
    this.live.delete(application.id);
    return { ...this.view(application), client_secret: secret };
  }

  async list(clientId: string): Promise<ApplicationResponseDto[]> {
    await this.clients.require(clientId);
    const applications = await this.repository.listForClient(clientId);
    return applications.map((application) => this.view(application));
  }

  async remove(clientId: string, applicationId: string): Promise<void> {
    await this.clients.require(clientId);
    const deleted = APPLICATION_ID.test(applicationId) ? await this.repository.delete(clientId, applicationId) : 0;
    this.live.delete(applicationId);
    if (!deleted) {
      throw ApiError.notFound('application_not_found', `Application ${applicationId} does not exist in client ${clientId}.`);
    }
  }

  /** The application as token issuing and checking see it: read from MySQL at most once per APPLICATION_CACHE_MS. */
  async findLive(applicationId: string): Promise<LiveApplication | null> {
    if (!APPLICATION_ID.test(applicationId)) return null;
    const cached = this.live.get(applicationId);
    if (cached !== undefined) return cached;
    const row = await this.repository.findCredentials(applicationId);
    const application = row ? { id: row.id, clientId: row.clientId, secretHash: row.secretHash } : null;
    this.live.set(applicationId, application);
    return application;
  }

  private view(application: Application): ApplicationResponseDto {
    return { client_id: application.id, name: application.name, created_at: application.createdAt.toISOString() };
  }
}
