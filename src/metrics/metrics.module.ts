import { Global, Module } from '@nestjs/common';
import { HttpMetrics } from './http-metrics.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics of the process (the HTTP timings are taken by `configureApp`'s hook when each request is
 * answered). The API serves them at `GET /metrics` behind the same basic auth as Bull Board (user admin, the admin
 * token); the worker serves them on its health port (WORKER_HEALTH_PORT).
 */
@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, HttpMetrics], exports: [MetricsService] })
export class MetricsModule {}
