import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { AgentEventsModule } from './agent-events/agent-events.module.js';
import { AgentsModule } from './agents/agents.module.js';
import { ApplicationsModule } from './applications/applications.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ClientsModule } from './clients/clients.module.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/configuration.js';
import { DeliveryLogModule } from './delivery-log/delivery-log.module.js';
import { DeliveryRecoveryModule } from './delivery-recovery/delivery-recovery.module.js';
import { DeliveryWorkerModule } from './delivery-worker/delivery-worker.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { DeliveryQueueModule } from './delivery-queue/delivery-queue.module.js';
import { StatusFeedModule } from './status-feed/status-feed.module.js';
import { TelephonyModule } from './telephony/telephony.module.js';

/** The HTTP API; `withWorker` also runs the delivery worker in the same process (one machine). */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: { withWorker?: boolean; extraModules?: Type[] } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        MetricsModule,
        DatabaseModule,
        DeliveryQueueModule,
        AuthModule,
        ClientsModule,
        ApplicationsModule,
        AgentsModule,
        AgentEventsModule,
        TelephonyModule,
        HealthModule,
        DeliveryLogModule,
        DeliveryRecoveryModule,
        StatusFeedModule,
        ...(options.withWorker ? [DeliveryWorkerModule] : []),
        ...(options.extraModules ?? []),
      ],
    };
  }
}
