import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error.js';
import { RateLimitService } from '../rate-limits/rate-limit.service.js';
import { ACCESS_KEY, PUBLIC_KEY } from '../common/access.decorator.js';
import type { Principal, Role } from '../common/principal.js';
import { TokenService } from './token.service.js';

export type AuthenticatedRequest = FastifyRequest<{ Params: Record<string, string> }> & { principal?: Principal };

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly rateLimits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const principal = match ? await this.tokens.resolve(match[1]) : null;
    if (!principal) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'invalid_token', 'A valid "Authorization: Bearer <token>" header is required.');
    }
    request.principal = principal;
    if (principal.role === 'client') await this.count(principal.clientId, context.switchToHttp().getResponse<FastifyReply>());
    const roles = this.reflector.getAllAndOverride<Role[]>(ACCESS_KEY, targets) ?? ['admin'];
    if (!roles.includes(principal.role)) throw this.denied();
    const clientId = request.params?.client_id;
    if (clientId === '@me') {
      if (principal.role !== 'client') {
        throw ApiError.notFound('client_not_found', '"@me" names the caller\'s own client, and this token belongs to none.');
      }
      request.params.client_id = principal.clientId;
    } else if (principal.role === 'client' && clientId !== principal.clientId) {
      // Decided before anything is looked up, so the answer says nothing about whether that client exists.
      throw this.denied();
    }
    return true;
  }

  /** Counts a client token's request against its hourly budget and tells the budget in X-RateLimit-* headers. */
  private async count(clientId: string, response: FastifyReply): Promise<void> {
    const budget = await this.rateLimits.consume(clientId);
    if (!budget) return;
    response.header('X-RateLimit-Limit', budget.limit);
    response.header('X-RateLimit-Remaining', budget.remaining);
    response.header('X-RateLimit-Reset', budget.resetSeconds);
    if (budget.exceeded) {
      response.header('Retry-After', budget.resetSeconds);
      throw new ApiError(
        HttpStatus.TOO_MANY_REQUESTS,
        'rate_limit_exceeded',
        `This client may make ${budget.limit} requests per hour; the budget is full again in ${budget.resetSeconds} s.`,
      );
    }
  }

  private denied(): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, 'access_denied', 'This token may not use this endpoint.');
  }
}
