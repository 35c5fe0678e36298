import { Injectable, PipeTransform, ArgumentMetadata } from '@nestjs/common';
import { ApiError } from './api-error.js';

/** Path ids of the spec that are integers: `agent_id`, `event_id`. */
@Injectable()
export class PositiveIntPipe implements PipeTransform<string, number> {
  transform(value: string, metadata: ArgumentMetadata): number {
    if (!/^[1-9]\d{0,9}$/.test(value) || Number(value) > 4294967295) {
      throw ApiError.validation(`${metadata.data} must be a positive integer`);
    }
    return Number(value);
  }
}

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** `client_id` is a string of the spec; `@me` stands for the caller's own client and is resolved by the guard. */
@Injectable()
export class ClientIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CLIENT_ID_PATTERN.test(value)) {
      throw ApiError.validation('client_id must be 1 to 64 letters, digits, "_" or "-"');
    }
    return value;
  }
}
