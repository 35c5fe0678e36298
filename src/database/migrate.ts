import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfigOrExit } from '../bootstrap.js';
import { dataSourceOptions } from './data-source-options.js';

/** `node dist/src/database/migrate.js`: brings the schema of DATABASE_URL up to date. */
const dataSource = new DataSource(dataSourceOptions((await loadConfigOrExit()).databaseUrl, { poolSize: 1 }));
await dataSource.initialize();
const applied = await dataSource.runMigrations({ transaction: 'each' });
for (const migration of applied) console.log(`agent-events: applied migration ${migration.name}`);
await dataSource.destroy();
