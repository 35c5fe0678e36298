import { applyDecorators, ValidationError, ValidationPipe, ValidationPipeOptions, type ArgumentMetadata } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';
import { ApiError } from './api-error.js';
import { PROTOTYPE_NAMES } from './request-body.js';

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
    // class-validator's whitelist looks fields up in a plain object, so `?toString=1` would pass as known.
    const named = metadata.type === 'query' && value && Object.keys(value).find((key) => PROTOTYPE_NAMES.has(key));
    if (named) throw ApiError.validation(`property ${named} should not exist`);
    return super.transform(value, metadata);
  }
}

/**
 * An optional field: it may be left out, but when given it is validated, `null` included. (`IsOptional` would let
 * `null` through unchecked, so `{"extension_name": null}` would blank a required column.)
 */
export const IsOmittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/**
 * A whole number from `min` to `max` in a query string, in plain decimal form only (as path ids): `1e3`, `0x10`,
 * `1.5`, `+1`, `010` or `` stay strings and are refused.
 */
export const IsDecimalInt = (min: number, max: number) => {
  const message = `$property must be a whole number from ${min} to ${max}`;
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^(0|[1-9]\d{0,14})$/.test(value) ? Number(value) : value)),
    IsInt({ message }),
    Min(min, { message }),
    Max(max, { message }),
  );
};
