import { HttpException, HttpStatus } from '@nestjs/common';

/** An error a client is meant to read: `{"message", "status"}` with a machine code in `status`. */
export class ApiError extends HttpException {
  constructor(
    httpStatus: HttpStatus,
    readonly code: string,
    message: string,
  ) {
    super({ message, status: code }, httpStatus);
  }

  static notFound(
    code:
      'client_not_found' | 'agent_not_found' | 'event_not_found' | 'delivery_not_found' | 'application_not_found' | 'recovery_not_found',
    message: string,
  ) {
    return new ApiError(HttpStatus.NOT_FOUND, code, message);
  }

  static validation(message: string) {
    return new ApiError(HttpStatus.BAD_REQUEST, 'validation_failed', message);
  }
}
