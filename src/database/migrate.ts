import 'dotenv/config';
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/configuration.js';
import { dataSourceOptions } from './data-source-options.js';

/** `node dist/src/database/migrate.js`: brings the schema of DATABASE_URL up to date. */
const dataSource = new DataSource(dataSourceOptions(loadConfig().databaseUrl, { poolSize: 1 }));
await dataSource.initialize();
const applied = await dataSource.runMigrations({ transaction: 'each' });
for (const migration of applied) console.log(`agent-events: applied migration ${migration.name}`);
await dataSource.destroy();
