import 'reflect-metadata';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { AppModule } from '../../src/app.module.js';
import { configureApp, HTTP_APP_OPTIONS } from '../../src/app.setup.js';
import { createHttpAdapter } from '../../src/common/http-platform.js';
import { loadConfig, type AppConfig } from '../../src/config/configuration.js';
import { shardPrefixes } from '../../src/redis/queue-prefixes.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const PBX_TOKEN = 'test-pbx-token-0123456789';
export const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
export const pbx = { Authorization: `Bearer ${PBX_TOKEN}` };

const runId = process.env.AE_TEST_RUN ?? randomBytes(3).toString('hex');
const baseDatabaseUrl = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database and a queue prefix of the suite's own, so suites and runs never see each other's data. */
export function suiteResources(suite: string) {
  const name = `ae_${runId}_${suite}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64);
  const url = new URL(baseDatabaseUrl);
  url.pathname = `/${name}`;
  return { databaseName: name, databaseUrl: url.toString(), queuePrefix: `{ae-${runId}-${suite}}`, redisUrl };
}

/** Deletes every Redis key under a queue prefix (SCAN + UNLINK; never FLUSHALL: the server is shared). */
export async function deleteQueueKeys(redis: Redis, queuePrefix: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) removed += await redis.unlink(...keys);
  } while (cursor !== '0');
  return removed;
}

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  /** The delivery worker runs in the app: deliveries change on their own until none is pending. */
  withWorker: boolean;
  http: () => ReturnType<typeof request>;
  /** Direct SQL on the suite's database, for asserting rows. */
  sql: <T = Record<string, unknown>>(query: string, params?: unknown[]) => Promise<T[]>;
  redis: Redis;
  /** Deletes every Redis key of the suite's queue prefixes (each shard's): a Redis that lost its data, for this suite only. */
  loseRedisData: () => Promise<number>;
  close: () => Promise<void>;
}

export interface TestAppOptions {
  withWorker?: boolean;
  /** Replace providers, e.g. a name resolver for the target policy. */
  customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /**
   * What the app logs, for a test that captures the output on purpose; nothing by default (the run's output is
   * one line per suite). The most detailed level given sets pino's level (`verbose` is pino's `trace`).
   */
  logLevels?: LogLevel[];
}

const PINO_LEVELS: [LogLevel, string][] = [
  ['verbose', 'trace'],
  ['debug', 'debug'],
  ['log', 'info'],
  ['warn', 'warn'],
  ['error', 'error'],
  ['fatal', 'fatal'],
];

/** LOG_LEVEL for the Nest log levels a test asks for. */
function logLevelFor(levels: LogLevel[] = []): string {
  return PINO_LEVELS.find(([nestLevel]) => levels.includes(nestLevel))?.[1] ?? 'silent';
}

/** One metric's value from a Prometheus text page (labels written exactly as the page writes them). */
export function metric(page: string, series: string): number | undefined {
  const line = page.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** One metric's value on the app's `/metrics` page (the API's, which shows its in-process worker's too); 0 if absent. */
export async function metricOf(t: TestApp, series: string): Promise<number> {
  const page = (await t.http().get('/metrics').auth('admin', ADMIN_TOKEN).expect(200)).text;
  return metric(page, series) ?? 0;
}

/** The API's HTTP app on a compiled module, as `main.ts` sets it up, initialised and ready for requests (not listening). */
export async function startHttpApp(moduleRef: TestingModule, logger: LogLevel[] | false): Promise<INestApplication> {
  const app = configureApp(moduleRef.createNestApplication(createHttpAdapter(), { ...HTTP_APP_OPTIONS, logger }));
  await app.init();
  await (app.getHttpAdapter().getInstance() as FastifyInstance).ready();
  return app;
}

export async function createTestApp(suite: string, env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const resources = suiteResources(suite);
  const server = await mysql.createConnection({ uri: baseDatabaseUrl.replace(/\/[^/]*$/, '/') });
  await server.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
  await server.query(`CREATE DATABASE \`${resources.databaseName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await server.end();

  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: resources.databaseUrl,
    REDIS_URL: resources.redisUrl,
    QUEUE_PREFIX: resources.queuePrefix,
    ADMIN_TOKEN,
    PBX_TOKEN,
    RUN_MIGRATIONS: 'true',
    LOG_LEVEL: logLevelFor(options.logLevels),
    ...env,
  });
  const builder = Test.createTestingModule({ imports: [AppModule.forRoot(config, { withWorker: options.withWorker })] });
  const moduleRef = await (options.customize ? options.customize(builder) : builder).compile();
  const app = await startHttpApp(moduleRef, options.logLevels ?? false);

  const pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 4, dateStrings: false, timezone: 'Z' });
  const redis = new Redis(resources.redisUrl, { lazyConnect: false });
  const loseRedisData = async () => {
    const removed = await Promise.all(
      shardPrefixes(config.queuePrefix, config.queueShards).map((prefix) => deleteQueueKeys(redis, prefix)),
    );
    return removed.reduce((sum, count) => sum + count, 0);
  };
  return {
    app,
    config,
    withWorker: Boolean(options.withWorker),
    http: () => request(app.getHttpServer()),
    sql: async (query, params = []) => (await pool.query(query, params))[0] as never,
    redis,
    loseRedisData,
    close: async () => {
      await app.close();
      await loseRedisData();
      await pool.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
      await pool.end();
      redis.disconnect();
    },
  };
}
