import { Global, Inject, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { adminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { HttpMetricsMiddleware } from './http-metrics.middleware.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics of the process (the HTTP timing middleware is installed by `configureApp`, ahead of every
 * route: as a Nest route middleware it would be an Express route answering every method on every path). The API serves them at `GET /metrics` behind the same basic auth as Bull
 * Board (user admin, the admin token); the worker serves them on its health port (WORKER_HEALTH_PORT).
 */
@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, HttpMetricsMiddleware], exports: [MetricsService] })
export class MetricsModule implements NestModule {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(adminBasicAuth(this.config.adminToken, 'GET /metrics')).forRoutes({ path: 'metrics', method: RequestMethod.GET });
  }
}
