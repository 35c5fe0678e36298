import { jest } from '@jest/globals';
import { Logger, type ArgumentsHost } from '@nestjs/common';
import { ApiExceptionFilter } from './api-exception.filter.js';

/** What the filter answers for `exception`, and what it logged at error and warn level. */
function handle(exception: unknown) {
  const answer: { status?: number; body?: { message: string; status: string } } = {};
  const response = {
    sent: false,
    raw: { headersSent: false },
    code(code: number) {
      answer.status = code;
      return this;
    },
    send(body: { message: string; status: string }) {
      answer.body = body;
    },
  };
  // The request as the request logger left it: its id set.
  const host = { switchToHttp: () => ({ getResponse: () => response, getRequest: () => ({ id: 'req-7' }) }) } as unknown as ArgumentsHost;
  const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  try {
    new ApiExceptionFilter().catch(exception, host);
    return { ...answer, errors: error.mock.calls.map((call) => call[0]), warnings: warn.mock.calls.map((call) => call[0]) };
  } finally {
    error.mockRestore();
    warn.mockRestore();
  }
}

describe('ApiExceptionFilter', () => {
  it('answers an unexpected error with 500 and an error id, and logs that id as a field with the error and the request id', () => {
    const boom = new Error('boom');
    const { status, body, errors } = handle(boom);
    expect(status).toBe(500);
    expect(body?.status).toBe('internal_error');
    const errorId = /error id ([0-9a-f-]{36})/.exec(body?.message ?? '')?.[1];
    expect(errorId).toBeDefined();
    expect(errors).toEqual([{ msg: `error ${errorId}`, errorId, reqId: 'req-7', err: boom }]);
  });

  it('answers 503 unavailable, not 500, when the database does not answer', () => {
    for (const exception of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Query failed'), { driverError: { code: 'PROTOCOL_CONNECTION_LOST' } }),
    ]) {
      const { status, body, errors, warnings } = handle(exception);
      expect(status).toBe(503);
      expect(body).toEqual({ message: 'The database is not answering; try again shortly.', status: 'unavailable' });
      expect(errors).toEqual([]);
      expect(warnings).toEqual([expect.objectContaining({ reqId: 'req-7' })]);
    }
  });

  it('still answers 500 for a query the database refused (not an outage)', () => {
    const { status } = handle(Object.assign(new Error('Deadlock found'), { driverError: { code: 'ER_LOCK_DEADLOCK' } }));
    expect(status).toBe(500);
  });
});
