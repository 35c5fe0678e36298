import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { urlencoded } from 'express';
import { ApplicationsModule } from '../applications/applications.module.js';
import { RateLimitsModule } from '../rate-limits/rate-limits.module.js';
import { AuthGuard } from './auth.guard.js';
import { ClientTokensService } from './client-tokens.service.js';
import { OAuthController } from './oauth.controller.js';
import { TokenService } from './token.service.js';

@Module({
  imports: [ApplicationsModule, RateLimitsModule],
  controllers: [OAuthController],
  providers: [TokenService, ClientTokensService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [TokenService],
})
export class AuthModule implements NestModule {
  /** `/oauth/token` is the API's one form endpoint (RFC 6749): it reads form-urlencoded bodies itself. */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(urlencoded({ extended: false, limit: '4kb', parameterLimit: 16 }))
      .forRoutes({ path: 'oauth/token', method: RequestMethod.POST });
  }
}
