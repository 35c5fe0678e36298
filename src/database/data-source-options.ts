import type { DataSourceOptions } from 'typeorm';
import { Agent } from '../agents/entities/agent.entity.js';
import { AgentEvent } from '../agent-events/entities/agent-event.entity.js';
import { Application } from '../applications/entities/application.entity.js';
import { Client } from '../clients/entities/client.entity.js';
import { DeliveryAttempt } from '../deliveries/entities/delivery-attempt.entity.js';
import { Delivery } from '../deliveries/entities/delivery.entity.js';
import { StatusChange } from '../status/entities/status-change.entity.js';
import { InitialSchema1764100000000 } from './migrations/1764100000000-initial-schema.js';
import { AgentEventCount1764200000000 } from './migrations/1764200000000-agent-event-count.js';
import { Applications1764300000000 } from './migrations/1764300000000-applications.js';
import { ClientRateLimit1764300000001 } from './migrations/1764300000001-client-rate-limit.js';

export const ENTITIES = [Client, Agent, AgentEvent, StatusChange, Delivery, DeliveryAttempt, Application];
export const MIGRATIONS = [
  InitialSchema1764100000000,
  AgentEventCount1764200000000,
  Applications1764300000000,
  ClientRateLimit1764300000001,
];

/** One definition for the app, the migration command and the benchmarks; never `synchronize`. */
export function dataSourceOptions(databaseUrl: string, poolSize = 16): DataSourceOptions {
  return {
    type: 'mysql',
    url: databaseUrl.replace(/^mariadb:/, 'mysql:'),
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    logging: process.env.AE_LOG_SQL === '1' ? ['query'] : false,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    poolSize,
    // trace: false — mysql2 would otherwise capture a stack trace for every query (a measurable share of CPU).
    extra: { connectionLimit: poolSize, enableKeepAlive: true, trace: false },
  };
}
