import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { generateSigningSecret } from '#webhook';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { ClientsRepository } from './clients.repository.js';
import { ClientsService } from './clients.service.js';
import type { Client } from './entities/client.entity.js';

export interface SigningSecretView {
  signing_secret: string;
  previous_signing_secret: string | null;
  previous_valid_until: string | null;
}

/** The client's Standard Webhooks secret; after a rotation the old one keeps signing for a day. */
@Injectable()
export class SigningSecretsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clients: ClientsService,
    private readonly repository: ClientsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async get(clientId: string): Promise<SigningSecretView> {
    return this.view(await this.clients.require(clientId));
  }

  async rotate(clientId: string): Promise<SigningSecretView> {
    return this.dataSource.transaction(async (manager) => {
      const client = await this.clients.require(clientId, manager, true);
      client.previousSigningSecret = client.signingSecret;
      client.signingSecret = generateSigningSecret();
      client.secretRotatedAt = new Date();
      await this.repository.save(manager, client);
      return this.view(client);
    });
  }

  /** The secrets that sign a webhook sent now: the current one, and for a day after a rotation the previous one too. */
  async secretsInForce(clientId: string): Promise<string[]> {
    const view = this.view(await this.clients.require(clientId));
    return view.previous_signing_secret ? [view.signing_secret, view.previous_signing_secret] : [view.signing_secret];
  }

  private view(client: Client): SigningSecretView {
    const until = client.secretRotatedAt ? new Date(client.secretRotatedAt.getTime() + this.config.webhook.secretOverlapMs) : null;
    const previousValid = client.previousSigningSecret && until && until.getTime() > Date.now();
    return {
      signing_secret: client.signingSecret,
      previous_signing_secret: previousValid ? client.previousSigningSecret : null,
      previous_valid_until: previousValid ? until.toISOString() : null,
    };
  }
}
