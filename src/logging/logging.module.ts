import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';

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

/**
 * JSON log lines through pino (coloured ones only for a person at a terminal in development): every line logged
 * while a request is handled carries its `reqId`, and one line per request tells its method, route, status and time.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
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
        },
      }),
    }),
  ],
})
export class LoggingModule {}
