import { Module } from '@nestjs/common';
import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { AppLogger } from './app-logger.js';

/** Never written to a log line: credentials, signatures and secrets, wherever they appear in a logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["webhook-signature"]',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.access_token',
  '*.client_secret',
  '*.signing_secret',
  '*.signature',
];

/** The root pino logger every line goes through. */
const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** pino's options: level, redaction, and the service's name on every line. */
function loggerOptions(config: AppConfig): LoggerOptions {
  return {
    level: config.log.level,
    base: { service: 'agent-events' },
    messageKey: 'msg',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
  };
}

/** What the request line tells of a request (no header, so no token can slip into a line). */
export interface AnsweredRequest {
  /** The request's id (`X-Request-Id`, given or made). */
  id: string;
  method: string;
  /** The URL it came with; the query is left out (it could carry a token). */
  url: string;
  statusCode: number;
  responseTimeMs: number;
}

/**
 * One line per request, when it is answered: its `reqId`, method, path, status code and time; at `error` for a 5xx,
 * `info` otherwise. Only what an operator needs. Nothing but the plain object above is built for a request whose line
 * the level leaves out: no child logger per request and no async context (Node 20's AsyncLocalStorage puts a hook on every promise), which
 * cost the API about a tenth of its CPU per status change at 200 changes/s (bench/README.md). A 500's own line (the
 * exception filter's, with its `errorId`) carries the `reqId` too. The HTTP set-up (`configureApp`) calls it.
 */
export class RequestLog {
  constructor(private readonly logger: PinoLogger) {}

  answered(request: AnsweredRequest): void {
    const failed = request.statusCode >= 500;
    const level = failed ? 'error' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    this.logger[level](
      {
        reqId: request.id,
        req: { method: request.method, url: request.url.split('?')[0] },
        res: { statusCode: request.statusCode },
        responseTime: request.responseTimeMs,
      },
      failed ? 'request errored' : 'request completed',
    );
  }
}

/**
 * JSON log lines through pino (coloured ones only for a person at a terminal in development): one line per request
 * tells its `reqId`, method, route, status and time. `AppLogger` is what `app.useLogger` takes; in the worker, without
 * HTTP routes, only it is used.
 */
@Module({
  providers: [
    { provide: ROOT_LOGGER, inject: [APP_CONFIG], useFactory: (config: AppConfig) => pino(loggerOptions(config)) },
    { provide: AppLogger, inject: [ROOT_LOGGER], useFactory: (root: PinoLogger) => new AppLogger(root) },
    { provide: RequestLog, inject: [ROOT_LOGGER], useFactory: (root: PinoLogger) => new RequestLog(root) },
  ],
  exports: [AppLogger, RequestLog],
})
export class LoggingModule {}
