import type { DataSourceOptions } from 'typeorm';
import { InitialSchema1764100000000 } from './migrations/1764100000000-initial-schema.js';
import { AgentEventCount1764200000000 } from './migrations/1764200000000-agent-event-count.js';
import { Applications1764300000000 } from './migrations/1764300000000-applications.js';
import { ClientRateLimit1764300000001 } from './migrations/1764300000001-client-rate-limit.js';
import { DeliveryHeldReason1764310000000 } from './migrations/1764310000000-delivery-held-reason.js';
import { DeliveryRetentionIndexes1764320000000 } from './migrations/1764320000000-delivery-retention-indexes.js';
import { DeliveryManualRetries1764330000000 } from './migrations/1764330000000-delivery-manual-retries.js';
import { ChangeAgentProcedure1764340000000 } from './migrations/1764340000000-change-agent-procedure.js';
import { RecordAttemptsProcedure1764350000000 } from './migrations/1764350000000-record-attempts-procedure.js';
import { ChangeAgentsSetBased1764360000000 } from './migrations/1764360000000-change-agents-set-based.js';
import { StatusChangeFacts1764400000000 } from './migrations/1764400000000-status-change-facts.js';
import { DeliveryOrder1764410000000 } from './migrations/1764410000000-delivery-order.js';
import { CatchUp1764420000000 } from './migrations/1764420000000-catch-up.js';
import { ProceduresForOne1764430000000 } from './migrations/1764430000000-procedures-for-one.js';
import { RecordAttemptNewerChange1764440000000 } from './migrations/1764440000000-record-attempt-newer-change.js';
import { DeliveryOrderIndex1764450000000 } from './migrations/1764450000000-delivery-order-index.js';
import { LighterProcedures1764460000000 } from './migrations/1764460000000-lighter-procedures.js';

export const MIGRATIONS = [
  InitialSchema1764100000000,
  AgentEventCount1764200000000,
  Applications1764300000000,
  ClientRateLimit1764300000001,
  DeliveryHeldReason1764310000000,
  DeliveryRetentionIndexes1764320000000,
  DeliveryManualRetries1764330000000,
  ChangeAgentProcedure1764340000000,
  RecordAttemptsProcedure1764350000000,
  ChangeAgentsSetBased1764360000000,
  StatusChangeFacts1764400000000,
  DeliveryOrder1764410000000,
  CatchUp1764420000000,
  ProceduresForOne1764430000000,
  RecordAttemptNewerChange1764440000000,
  DeliveryOrderIndex1764450000000,
  LighterProcedures1764460000000,
];

/** One definition for the app, the migration command and the benchmarks; never `synchronize`. */
export function dataSourceOptions(databaseUrl: string, options: { poolSize?: number; logSql?: boolean } = {}): DataSourceOptions {
  const poolSize = options.poolSize ?? 16;
  return {
    type: 'mysql',
    url: databaseUrl.replace(/^mariadb:/, 'mysql:'),
    // Each feature module registers its entities (TypeOrmModule.forFeature; the app loads them automatically).
    entities: [],
    migrations: MIGRATIONS,
    synchronize: false,
    logging: options.logSql ? ['query'] : false,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    poolSize,
    // trace: false — mysql2 would otherwise capture a stack trace for every query (a measurable share of CPU).
    extra: { connectionLimit: poolSize, enableKeepAlive: true, trace: false },
  };
}
