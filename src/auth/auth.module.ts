import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
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
export class AuthModule {}
