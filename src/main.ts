import 'dotenv/config';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { ConfigError, loadConfig } from './config/configuration.js';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`agent-events: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const withWorker = process.argv.includes('--with-worker');
  const app = configureApp(await NestFactory.create(AppModule.forRoot(config, { withWorker }), { bufferLogs: false }));
  await app.listen(config.port, '0.0.0.0');
  const base = `http://localhost:${config.port}`;
  const logger = new Logger('agent-events');
  logger.log(`API ${base}/client/ (also under ${base}/api/ver1.0/)`);
  logger.log(`Swagger UI ${base}/docs, OpenAPI JSON ${base}/docs-json`);
  logger.log(`Health ${base}/health`);
  logger.log(`Bull Board ${base}/admin/queues (user admin, password: the admin token)`);
  logger.log(`Admin token: ${config.adminToken}; PBX token: ${config.pbxToken}`);
  logger.log(withWorker ? 'Delivery worker running in this process' : 'No worker in this process: start one with `node dist/src/worker.js`');
}

await bootstrap();
