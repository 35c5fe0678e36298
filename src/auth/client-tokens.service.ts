import { Inject, Injectable } from '@nestjs/common';
import { verify } from '@node-rs/argon2';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationsService, type LiveApplication } from '../applications/applications.service.js';
import { TtlCache } from '../common/ttl-cache.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import type { TokenResponseDto } from './dto/token.dto.js';
import type { Principal } from '../common/principal.js';
import { invalidClient, type TokenRequest } from './token-request.js';

/** How long a process remembers a secret it verified, so that a token per call does not cost an argon2 hash per call. */
export const VERIFIED_SECRET_CACHE_MS = 30_000;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Access tokens of client applications: `<application id>.<client id>.<expiry>.<HMAC-SHA256 of the three>`, signed
 * with TOKEN_SIGNING_KEY. Self-contained, so issuing stores nothing and checking reads no table; a deleted
 * application's tokens stop when the application cache (APPLICATION_CACHE_MS) forgets it.
 */
@Injectable()
export class ClientTokensService {
  /** Application id → SHA-256 of the secret last verified for it. */
  private readonly verifiedSecrets = new TtlCache<string, Buffer>(VERIFIED_SECRET_CACHE_MS);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly applications: ApplicationsService,
  ) {}

  async issue(request: TokenRequest): Promise<TokenResponseDto> {
    const application = await this.applications.findLive(request.clientId);
    if (!application || !(await this.secretMatches(application, request.clientSecret))) throw invalidClient();
    const expiresAt = Math.floor(Date.now() / 1000) + this.config.tokenTtlSeconds;
    const claims = `${application.id}.${application.clientId}.${expiresAt}`;
    return { access_token: `${claims}.${this.signature(claims)}`, token_type: 'bearer', expires_in: this.config.tokenTtlSeconds };
  }

  /** The client a token speaks for, or null when it is not one of ours, has expired, or its application is gone. */
  async verify(token: string): Promise<Principal | null> {
    const parts = token.split('.');
    if (parts.length !== 4) return null;
    const [applicationId, clientId, expiresAt, signature] = parts;
    const expected = Buffer.from(this.signature(`${applicationId}.${clientId}.${expiresAt}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    if (!/^\d{1,12}$/.test(expiresAt) || Number(expiresAt) <= Date.now() / 1000) return null;
    const application = await this.applications.findLive(applicationId);
    if (!application || application.clientId !== clientId) return null;
    return { role: 'client', clientId };
  }

  private signature(claims: string): string {
    return createHmac('sha256', this.config.tokenSigningKey).update(claims).digest('base64url');
  }

  private async secretMatches(application: LiveApplication, secret: string): Promise<boolean> {
    const presented = sha256(secret);
    const verified = this.verifiedSecrets.get(application.id);
    if (verified && timingSafeEqual(verified, presented)) return true;
    const matches = await verify(application.secretHash, secret).catch(() => false);
    if (matches) this.verifiedSecrets.set(application.id, presented);
    return matches;
  }
}
