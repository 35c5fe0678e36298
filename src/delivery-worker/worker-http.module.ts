import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module.js';
import { WorkerHttpServer } from './worker-http.server.js';

/** The worker's health and metrics port (WORKER_HEALTH_PORT). */
@Module({ imports: [HealthModule], providers: [WorkerHttpServer] })
export class WorkerHttpModule {}
