import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { ClientTokensService } from './client-tokens.service.js';
import type { Principal } from '../common/principal.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

@Injectable()
export class TokenService {
  private readonly admin: Buffer;
  private readonly pbx: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly clientTokens: ClientTokensService,
  ) {
    this.admin = digest(config.adminToken);
    this.pbx = digest(config.pbxToken);
  }

  /** Compares digests in constant time, so a token's length and prefix leak nothing. */
  async resolve(token: string): Promise<Principal | null> {
    const presented = digest(token);
    if (timingSafeEqual(presented, this.admin)) return { role: 'admin' };
    if (timingSafeEqual(presented, this.pbx)) return { role: 'pbx' };
    return this.clientTokens.verify(token);
  }
}
