import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../database/database-unavailable.js';

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'invalid_token',
  403: 'access_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limit_exceeded',
  503: 'unavailable',
};

/** Every error leaves as `{"message", "status"}`; never a stack trace or SQL. A 500 carries an id that is also logged. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<FastifyReply>();
    // The request's id (set by the request logger): this filter's own lines carry it, as the request's line does.
    const { httpStatus, body } = this.describe(exception, http.getRequest<{ id?: string }>().id);
    if (response.sent || response.raw.headersSent) return;
    response.code(httpStatus).send(body);
  }

  private describe(exception: unknown, reqId?: string): { httpStatus: number; body: { message: string; status: string } } {
    // The Fastify adapter wraps the server's own errors (a body over its limit, a URL it cannot decode) in an
    // HttpException; the server's error, with its code, is the cause.
    const serverError = (exception instanceof HttpException ? exception.cause : exception) as { code?: unknown } | undefined;
    if (serverError?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return { httpStatus: 413, body: { message: 'The request body is too large.', status: 'payload_too_large' } };
    }
    if (serverError?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return {
        httpStatus: 415,
        body: { message: 'The request body must be JSON (Content-Type: application/json).', status: 'unsupported_media_type' },
      };
    }
    if (exception instanceof HttpException) {
      const httpStatus = exception.getStatus();
      const raw = exception.getResponse();
      if (typeof raw === 'object' && raw && 'status' in raw && typeof raw.status === 'string') {
        return { httpStatus, body: { message: String((raw as unknown as { message: unknown }).message), status: raw.status } };
      }
      const message = typeof raw === 'string' ? raw : String((raw as { message?: unknown }).message ?? exception.message);
      return { httpStatus, body: { message, status: CODES[httpStatus] ?? (httpStatus < 500 ? 'bad_request' : 'internal_error') } };
    }
    // A stream's error with a client status (a request body cut off part-way).
    const clientError = exception as { status?: number };
    if (typeof clientError?.status === 'number' && clientError.status >= 400 && clientError.status < 500) {
      const status = CODES[clientError.status] ?? 'bad_request';
      return { httpStatus: clientError.status, body: { message: 'The request could not be read.', status } };
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn({ msg: `database not answering: ${(exception as Error)?.message ?? String(exception)}`, reqId });
      return { httpStatus: 503, body: { message: 'The database is not answering; try again shortly.', status: 'unavailable' } };
    }
    const errorId = randomUUID();
    this.logger.error({ msg: `error ${errorId}`, errorId, reqId, err: exception });
    return {
      httpStatus: HttpStatus.INTERNAL_SERVER_ERROR,
      body: { message: `Internal error; quote error id ${errorId} when reporting it.`, status: 'internal_error' },
    };
  }
}
