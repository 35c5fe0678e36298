import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppLogger } from './logging/app-logger.js';
import { baseUrl, listeningLine, loadConfigOrExit, stopGracefully } from './bootstrap.js';
import { WorkerHttpServer } from './delivery-worker/worker-http.server.js';
import { shardPrefixes } from './redis/queue-prefixes.js';
import { WorkerModule } from './worker.module.js';

const config = await loadConfigOrExit();
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
app.useLogger(app.get(AppLogger));
stopGracefully(app, config.shutdownGraceMs);
const port = app.get(WorkerHttpServer).port;
// The API's banner, for the worker's health and metrics port (on HOST, as the API's).
if (port !== undefined) {
  const base = baseUrl(config.host, port);
  console.log(listeningLine(config.host, port));
  console.log(`Health      ${base}/health/live  ${base}/health/ready`);
  console.log(`Metrics     ${base}/metrics  (user admin, password: the admin token)`);
}
const queues = shardPrefixes(config.queuePrefix, config.queueShards);
console.log(`Delivery worker running (queue prefix ${queues.join(', ')}, concurrency ${config.webhook.concurrency})`);
