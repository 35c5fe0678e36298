import 'reflect-metadata';
import { getPriority, setPriority } from 'node:os';
import { NestFactory } from '@nestjs/core';
import { AppLogger } from './logging/app-logger.js';
import { baseUrl, listeningLine, loadConfigOrExit, stopGracefully } from './bootstrap.js';
import { WorkerHttpServer } from './delivery-worker/worker-http.server.js';
import { shardPrefixes } from './redis/queue-prefixes.js';
import { WorkerModule } from './worker.module.js';

const config = await loadConfigOrExit();
// A worker of the backlog lane alone runs below the other processes' CPU priority (WORKER_NICE; raising one's own
// niceness needs no privilege; a process started nicer already stays so).
if (config.workerNice > getPriority()) setPriority(config.workerNice);
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
const lanes = config.workerLanes.join(' and ');
console.log(
  `Delivery worker running (queue prefix ${queues.join(', ')}, lanes ${lanes}, concurrency ${config.webhook.concurrency} per lane` +
    `${config.workerNice > 0 ? `, nice ${config.workerNice}` : ''})`,
);
