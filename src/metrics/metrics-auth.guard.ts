import { HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error.js';
import { ADMIN_REALM, adminAuthRequired, isAdminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';

/** `GET /metrics` needs basic auth: user `admin`, the admin token as password (what a Prometheus scrape config sends). */
@Injectable()
export class MetricsAuthGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (isAdminBasicAuth(http.getRequest<FastifyRequest>().headers.authorization, this.config.adminToken)) return true;
    http.getResponse<FastifyReply>().header('WWW-Authenticate', ADMIN_REALM);
    const { message, status } = adminAuthRequired('GET /metrics');
    throw new ApiError(HttpStatus.UNAUTHORIZED, status, message);
  }
}
