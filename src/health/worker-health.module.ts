import { Module } from '@nestjs/common';
import { HealthModule } from './health.module.js';
import { WorkerHealthServer } from './worker-health.server.js';

/** The worker's health and metrics port (WORKER_HEALTH_PORT). */
@Module({ imports: [HealthModule], providers: [WorkerHealthServer] })
export class WorkerHealthModule {}
