import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/configuration.js';
import { DatabaseModule } from './database/database.module.js';
import { DeliveryWorkerModule } from './delivery-worker/delivery-worker.module.js';
import { WorkerHttpModule } from './delivery-worker/worker-http.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { DeliveryQueueModule } from './delivery-queue/delivery-queue.module.js';

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
        DeliveryQueueModule,
        DeliveryWorkerModule,
        WorkerHttpModule,
      ],
    };
  }
}
