import { Inject, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { AppLogger } from './app-logger.js';

/** A caller's `X-Request-Id` is kept when it is a plain token; anything else (too long, odd characters) is replaced. */
const REQUEST_ID = /^[\w.:@-]{1,128}$/;

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

export function requestId(request: IncomingMessage, response: ServerResponse): string {
  const given = request.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  response.setHeader('X-Request-Id', id);
  return id;
}

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

/** A request as the request line and the exception filter read it: its id, set by `requestLogging`. */
type IdentifiedRequest = IncomingMessage & { id?: string; originalUrl?: string };

/**
 * One line per request, when it is answered (or the caller went away): its `reqId`, method, path (no query: it could
 * carry a token), status code and time; at `error` for a 5xx, `info` otherwise. Only what an operator needs: no
 * header, so no token can slip into a line. Nothing is built for a request whose line the level leaves out: no child
 * logger per request and no async context (Node 20's AsyncLocalStorage puts a hook on every promise), which cost the
 * API about a tenth of its CPU per status change at 200 changes/s (bench/README.md). A 500's own line (the exception
 * filter's, with its `errorId`) carries the `reqId` too.
 */
export function requestLogging(logger: PinoLogger) {
  return (request: IdentifiedRequest, response: ServerResponse, next: () => void): void => {
    const reqId = requestId(request, response);
    request.id = reqId;
    const started = Date.now();
    const answered = () => {
      response.off('finish', answered);
      response.off('close', answered);
      const failed = response.statusCode >= 500;
      const level = failed ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          reqId,
          req: { method: request.method, url: (request.originalUrl ?? request.url ?? '').split('?')[0] },
          res: { statusCode: response.statusCode },
          responseTime: Date.now() - started,
        },
        failed ? 'request errored' : 'request completed',
      );
    };
    response.on('finish', answered);
    response.on('close', answered);
    next();
  };
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
  ],
  exports: [AppLogger],
})
export class LoggingModule implements NestModule {
  constructor(@Inject(ROOT_LOGGER) private readonly root: PinoLogger) {}

  configure(consumer: MiddlewareConsumer): void {
    // Every path, the unknown ones included (`{/*splat}` also matches `/`).
    consumer.apply(requestLogging(this.root)).forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }
}
