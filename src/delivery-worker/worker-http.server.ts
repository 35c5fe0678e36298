import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { isAdminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { HealthChecks } from '../health/health-checks.service.js';

/** How often the worker looks at MySQL to pause taking jobs while it is away, and to resume when it is back. */
const WATCH_INTERVAL_MS = 1000;

function send(response: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  response.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * The worker has no API, only this small HTTP server on WORKER_HEALTH_PORT, on the HOST address as the API's port: `/health/live`, `/health/ready`
 * (MySQL and Redis answer and the queue is being consumed) and `/metrics` (basic auth: user admin, the admin
 * token). It also pauses the queue consumer while MySQL does not answer, so jobs wait in Redis instead of
 * failing one after another, and resumes it when MySQL is back.
 */
@Injectable()
export class WorkerHttpServer implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerHealth');
  private server?: Server;
  private watch?: NodeJS.Timeout;
  private pausedForMysql = false;
  private stopped = false;
  private processor!: DeliveryProcessor;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly checks: HealthChecks,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The port actually listened on (WORKER_HEALTH_PORT=0 takes a free one), once started. */
  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.processor = this.moduleRef.get(DeliveryProcessor, { strict: false });
    this.watchMysql();
    const server = createServer((request, response) => {
      this.handle(request.url ?? '/', request.headers.authorization, response).catch((error: Error) => {
        this.logger.error(`health request failed: ${error.message}`);
        if (!response.headersSent) send(response, 500, { message: 'Internal error.', status: 'internal_error' });
      });
    });
    await new Promise<void>((resolve) => {
      server.once('error', (error: Error) => {
        // The worker keeps delivering; an orchestrator probing this port will notice and say so.
        this.logger.error(
          `WORKER_HEALTH_PORT ${this.config.workerHealthPort} on ${this.config.host} cannot be used (${error.message}): no health or metrics here`,
        );
        resolve();
      });
      // On HOST, as the API: 127.0.0.1 unless set, every interface in production.
      server.listen(this.config.workerHealthPort, this.config.host, () => {
        this.server = server;
        resolve();
      });
    });
  }

  /** The consumer is being closed: stop pausing and resuming it. */
  beforeApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.watch);
  }

  async onApplicationShutdown(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private async handle(url: string, authorization: string | undefined, response: ServerResponse): Promise<void> {
    const path = url.split('?')[0].replace(/\/+$/, '');
    if (path === '/health/live') return send(response, 200, { status: 'ok' });
    if (path === '/health/ready' || path === '/health') {
      try {
        return send(response, 200, await this.checks.ready({ queue: () => this.consuming() }));
      } catch (error) {
        const { message, status } = (error as { getResponse: () => { message: string; status: string } }).getResponse();
        return send(response, 503, { message, status });
      }
    }
    if (path === '/metrics') {
      if (!isAdminBasicAuth(authorization, this.config.adminToken)) {
        response.setHeader('WWW-Authenticate', 'Basic realm="agent-events", charset="UTF-8"');
        return send(response, 401, { message: '/metrics needs user admin and the admin token as password.', status: 'invalid_token' });
      }
      return send(response, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
    }
    send(response, 404, { message: `${path} is not here: try /health/live, /health/ready or /metrics.`, status: 'not_found' });
  }

  private async consuming(): Promise<void> {
    const { workers } = this.processor;
    if (!workers.length || workers.some((worker) => !worker.isRunning() || worker.isPaused())) {
      throw new Error('the queue consumer is not running');
    }
  }

  private watchMysql(): void {
    this.watch = setTimeout(async () => {
      const mysqlDown = (await this.checks.down().catch(() => ['mysql'])).includes('mysql');
      const { workers } = this.processor;
      if (this.stopped) return;
      if (!workers.length) return this.watchMysql();
      if (mysqlDown && !this.pausedForMysql) {
        this.pausedForMysql = true;
        this.logger.warn('MySQL is not answering: the worker stops taking jobs until it is back');
        // Jobs in flight fail on their own and are retried; new ones wait in Redis.
        await Promise.all(workers.map((worker) => worker.pause(true).catch(() => undefined)));
      } else if (!mysqlDown && this.pausedForMysql) {
        this.pausedForMysql = false;
        this.logger.warn('MySQL answers again: the worker takes jobs again');
        await Promise.all(workers.map((worker) => worker.resume().catch(() => undefined)));
      }
      this.watchMysql();
    }, WATCH_INTERVAL_MS);
  }
}
