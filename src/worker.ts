import 'dotenv/config';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit, stopGracefully } from './bootstrap.js';
import { WorkerModule } from './worker.module.js';

const config = loadConfigOrExit();
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config));
stopGracefully(app, config.shutdownGraceMs);
new Logger('agent-events').log(`Delivery worker running (queue prefix ${config.queuePrefix}, concurrency ${config.webhook.concurrency})`);
