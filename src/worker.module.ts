import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/configuration.js';
import { DatabaseModule } from './database/database.module.js';
import { DeliveryWorkerModule } from './deliveries/delivery-worker.module.js';
import { WorkerHealthModule } from './health/worker-health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { QueueModule } from './queue/queue.module.js';

/** The delivery worker on its own: BullMQ processor and reconciler; no API, only its health and metrics port. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        MetricsModule,
        DatabaseModule,
        QueueModule,
        DeliveryWorkerModule,
        WorkerHealthModule,
      ],
    };
  }
}
