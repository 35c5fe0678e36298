import { HttpStatus, Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';
import ipaddr from 'ipaddr.js';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApplicationsService, type LiveApplication } from '../applications/applications.service.js';
import { ApiError } from '../common/api-error.js';
import { TtlCache } from '../common/ttl-cache.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { RateLimitService, type FailureCounter } from '../rate-limits/rate-limit.service.js';
import type { TokenResponseDto } from './dto/token.dto.js';
import type { Principal } from '../common/principal.js';
import { invalidClient, type TokenRequest } from './token-request.js';

/** How long a process remembers a secret it verified, so that a token per call does not cost an argon2 hash per call. */
export const VERIFIED_SECRET_CACHE_MS = 30_000;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Too many failed token requests for an application id or from an address: 429, and when to try again. */
export class TokenRequestsThrottled extends ApiError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      'rate_limit_exceeded',
      `Too many failed token requests for this client_id or from this address; try again in ${retryAfterSeconds} s.`,
    );
  }
}

/**
 * Who a failed attempt is counted against: the source address, IPv4 as such (also when mapped into IPv6) and IPv6
 * by its /64, which one machine usually holds whole.
 */
export function addressKey(address: string | undefined): string {
  try {
    const parsed = ipaddr.process(address ?? '');
    if (parsed.kind() === 'ipv4') return parsed.toString();
    return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/64`).toString()}/64`;
  } catch {
    return 'unknown';
  }
}

/**
 * Access tokens of client applications: `<application id>.<client id>.<expiry>.<HMAC-SHA256 of the three>`, signed
 * with TOKEN_SIGNING_KEY. Self-contained, so issuing stores nothing and checking reads no table; a deleted
 * application's tokens stop when the application cache (APPLICATION_CACHE_MS) forgets it.
 */
@Injectable()
export class ClientTokensService implements OnModuleInit {
  /** Application id → SHA-256 of the secret last verified for it. */
  private readonly verifiedSecrets = new TtlCache<string, Buffer>(VERIFIED_SECRET_CACHE_MS);
  /**
   * What a secret given for an unknown application id is verified against: a hash made at start-up, with the
   * parameters every application's hash has (argon2's defaults, as ApplicationsService makes them), of a secret nobody
   * knows. So an unknown id costs what a wrong secret costs, and the answer's timing tells neither apart.
   */
  private dummyHash!: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly applications: ApplicationsService,
    private readonly rateLimits: RateLimitService,
  ) {}

  async onModuleInit(): Promise<void> {
    this.dummyHash = await hash(randomBytes(32).toString('base64url'));
  }

  /**
   * A token for the application, when its secret is right. Failed attempts are counted per application id and per
   * source address (`address`) in Redis; past either budget the request is refused with 429 before any hash is
   * verified, so a flood of wrong secrets costs the service a Redis round trip each, not an argon2 verification.
   */
  async issue(request: TokenRequest, address?: string): Promise<TokenResponseDto> {
    const { perApplication, perAddress, windowSeconds } = this.config.tokenFailures;
    const counters: FailureCounter[] = [
      // Any id, known or not, is counted alike (a 429 must not tell which ids exist); hashed, so keys stay short.
      { key: `token-failures:id:${sha256(request.clientId).toString('base64url')}`, limit: perApplication },
      { key: `token-failures:address:${addressKey(address)}`, limit: perAddress },
    ];
    const blockedSeconds = await this.rateLimits.secondsBlocked(counters);
    if (blockedSeconds > 0) throw new TokenRequestsThrottled(blockedSeconds);
    const application = await this.applications.findLive(request.clientId);
    // An unknown id is verified too, against the dummy hash: it costs the same time as a wrong secret.
    const matches = await this.secretMatches(application, request.clientSecret);
    if (!application || !matches) {
      await this.rateLimits.countFailure(counters, windowSeconds * 1000);
      throw invalidClient();
    }
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

  private async secretMatches(application: LiveApplication | null, secret: string): Promise<boolean> {
    if (!application) {
      await verify(this.dummyHash, secret).catch(() => false);
      return false;
    }
    const presented = sha256(secret);
    const verified = this.verifiedSecrets.get(application.id);
    if (verified && timingSafeEqual(verified, presented)) return true;
    const matches = await verify(application.secretHash, secret).catch(() => false);
    if (matches) this.verifiedSecrets.set(application.id, presented);
    return matches;
  }
}
