import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service.js';

/** Times every API request, labelled by its route pattern (`/client/:client_id/...`), never by its raw path. */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = performance.now();
    response.once('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path;
      this.metrics.httpDuration.observe(
        { method: request.method, route: typeof route === 'string' ? route : 'unmatched', status_code: String(response.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    next();
  }
}
