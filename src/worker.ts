import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppLogger } from './logging/app-logger.js';
import { loadConfigOrExit, stopGracefully } from './bootstrap.js';
import { WorkerHttpServer } from './delivery-worker/worker-http.server.js';
import { WorkerModule } from './worker.module.js';

const config = await loadConfigOrExit();
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
app.useLogger(app.get(AppLogger));
stopGracefully(app, config.shutdownGraceMs);
const port = app.get(WorkerHttpServer).port;
console.log(`Delivery worker running (queue prefix ${config.queuePrefix}, concurrency ${config.webhook.concurrency})`);
if (port !== undefined)
  console.log(`Health      http://localhost:${port}/health/live  /health/ready  /metrics (user admin, the admin token)`);
