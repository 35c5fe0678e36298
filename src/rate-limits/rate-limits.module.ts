import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { RateLimitService } from './rate-limit.service.js';

@Module({ imports: [ClientsModule], providers: [RateLimitService], exports: [RateLimitService] })
export class RateLimitsModule {}
