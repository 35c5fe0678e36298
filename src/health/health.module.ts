import { Module } from '@nestjs/common';
import { RedisHealthClient } from '../queue/redis.provider.js';
import { HealthController } from './health.controller.js';

@Module({ controllers: [HealthController], providers: [RedisHealthClient] })
export class HealthModule {}
