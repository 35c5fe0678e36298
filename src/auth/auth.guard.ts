import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../common/api-error.js';
import { ACCESS_KEY, PUBLIC_KEY } from './access.decorator.js';
import type { Principal, Role } from './principal.js';
import { TokenService } from './token.service.js';

export type AuthenticatedRequest = Request & { principal?: Principal };

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
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
    const roles = this.reflector.getAllAndOverride<Role[]>(ACCESS_KEY, targets) ?? ['admin'];
    if (!roles.includes(principal.role)) throw this.denied();
    const clientId = request.params?.client_id;
    if (clientId === '@me') {
      if (principal.role !== 'client') {
        throw ApiError.notFound('client_not_found', '"@me" names the caller\'s own client, and this token belongs to none.');
      }
      request.params.client_id = principal.clientId;
    } else if (principal.role === 'client' && clientId !== undefined && clientId !== principal.clientId) {
      throw this.denied();
    }
    return true;
  }

  private denied(): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, 'access_denied', 'This token may not use this endpoint.');
  }
}
