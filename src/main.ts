import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp, HTTP_APP_OPTIONS } from './app.setup.js';
import { createHttpAdapter } from './common/http-platform.js';
import { QueueBoardModule } from './delivery-queue/queue-board.module.js';
import { baseUrl, listenOrExit, listeningLine, loadConfigOrExit, portFreeOrExit, stopGracefully } from './bootstrap.js';

const config = await loadConfigOrExit();
await portFreeOrExit('PORT', config.port, config.host);
const withWorker = process.argv.includes('--with-worker');
const app = configureApp(
  await NestFactory.create(AppModule.forRoot(config, { withWorker, extraModules: [QueueBoardModule] }), createHttpAdapter(), {
    ...HTTP_APP_OPTIONS,
    bufferLogs: true,
  }),
);
stopGracefully(app, config.shutdownGraceMs);
await listenOrExit(app, 'PORT', config.port, config.host);

const base = baseUrl(config.host, config.port);
console.log(listeningLine(config.host, config.port));
console.log(`API         ${base}/client/  (also under ${base}/api/ver1.0/)`);
console.log(`Swagger UI  ${base}/docs  (OpenAPI JSON ${base}/docs-json)`);
console.log(`Health      ${base}/health/live  ${base}/health/ready`);
console.log(`Metrics     ${base}/metrics  (user admin, password: the admin token)`);
console.log(`Bull Board  ${base}/admin/queues  (user admin, password: the admin token)`);
// In production the tokens are secrets of the deployment: show only enough to tell which one is in use.
const shown = (token: string) => (config.nodeEnv === 'production' ? `${token.slice(0, 4)}…` : token);
console.log(
  config.webhook.allowedCidrs.length
    ? `Allow-list  WEBHOOK_ALLOWED_CIDRS=${config.webhook.allowedCidrs.join(',')} (webhook targets allowed besides public addresses)`
    : 'Allow-list  none: loopback and private targets are refused (for a receiver on this machine: WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8,::1/128)',
);
console.log(`Admin token ${shown(config.adminToken)}  |  PBX token ${shown(config.pbxToken)}`);
console.log(
  withWorker ? 'Delivery worker: running in this process' : 'Delivery worker: not in this process (start one: node dist/src/worker.js)',
);
