import { Inject, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp, type HttpLogger, type Options } from 'pino-http';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { AppLogger, requestLogger } from './app-logger.js';

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

/** pino-http's middleware; its `logger` is the root logger every other line goes through. */
export const HTTP_LOGGER = Symbol('HTTP_LOGGER');

/** pino-http's options: pino's own (level, redaction, …) and how a request's line is written. */
export function httpLoggerOptions(config: AppConfig): Options {
  return {
    level: config.log.level,
    base: { service: 'agent-events' },
    messageKey: 'msg',
    genReqId: requestId,
    quietReqLogger: true,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Only what an operator needs of a request: no headers, so no token can slip into a line.
    serializers: {
      req: (request: { method: string; url: string }) => ({ method: request.method, url: request.url.split('?')[0] }),
      res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
    },
    customLogLevel: (_request, response, error) => (error || response.statusCode >= 500 ? 'error' : 'info'),
    // A 5xx answer is not a thrown error: no stack of pino-http's own making (a real 500 is logged with its
    // error id by the exception filter).
    customErrorObject: (_request, _response, _error, line: Record<string, unknown>) => ({ ...line, err: undefined }),
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
  };
}

/** Runs the rest of the request with its own logger, so that every line logged meanwhile carries its `reqId`. */
function bindRequestLogger(request: IncomingMessage & { allLogs?: HttpLogger['logger'][] }, _response: ServerResponse, next: () => void) {
  const logger = request.allLogs?.[request.allLogs.length - 1];
  if (logger) requestLogger.run(logger, next);
  else next();
}

/**
 * JSON log lines through pino (coloured ones only for a person at a terminal in development): every line logged
 * while a request is handled carries its `reqId`, and one line per request tells its method, route, status and time.
 * `AppLogger` is what `app.useLogger` takes; in the worker, without HTTP routes, only it is used.
 */
@Module({
  providers: [
    { provide: HTTP_LOGGER, inject: [APP_CONFIG], useFactory: (config: AppConfig) => pinoHttp(httpLoggerOptions(config)) },
    { provide: AppLogger, inject: [HTTP_LOGGER], useFactory: (http: HttpLogger) => new AppLogger(http.logger) },
  ],
  exports: [AppLogger, HTTP_LOGGER],
})
export class LoggingModule implements NestModule {
  constructor(@Inject(HTTP_LOGGER) private readonly http: HttpLogger) {}

  configure(consumer: MiddlewareConsumer): void {
    // Every path, the unknown ones included (`{/*splat}` also matches `/`).
    consumer.apply(this.http, bindRequestLogger).forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }
}
