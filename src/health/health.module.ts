import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RedisHealthClient } from '../redis/redis-health.client.js';
import { HealthChecks } from './health-checks.service.js';
import { HealthController } from './health.controller.js';

/** Liveness and readiness of the API: `/health/live`, `/health/ready` (and `/health`, the same as ready). */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisHealthClient, HealthChecks],
  exports: [HealthChecks],
})
export class HealthModule {}
