import { ValidationError, ValidationPipe, ValidationPipeOptions, type ArgumentMetadata } from '@nestjs/common';
import { ValidateIf } from 'class-validator';
import { ApiError } from './api-error.js';

function describe(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) => text.replace(error.property, path));
    return [...own, ...describe(error.children ?? [], path)];
  });
}

export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => ApiError.validation(describe(errors).join('; ')),
};

/**
 * The global pipe. Path parameters are left as the strings they arrived as, for their own pipes to parse: with
 * `transform` on, ValidationPipe would first turn an `agent_id` typed `number` into `Number("1e3")` = 1000 (or
 * "0x10" into 16), and PositiveIntPipe could no longer refuse it.
 */
export class ApiValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'param') return Promise.resolve(value);
    return super.transform(value, metadata);
  }
}

/**
 * An optional field: it may be left out, but when given it is validated, `null` included. (`IsOptional` would let
 * `null` through unchecked, so `{"extension_name": null}` would blank a required column.)
 */
export const IsOmittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);
