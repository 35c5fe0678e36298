import { ValidationError, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
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

/** For handlers whose body type is only known at run time (the controllers made per agent type). */
export function bodyPipe(type: new () => object): ValidationPipe {
  return new ValidationPipe({ ...VALIDATION_OPTIONS, expectedType: type });
}

/**
 * An optional field: it may be left out, but when given it is validated, `null` included. (`IsOptional` would let
 * `null` through unchecked, so `{"extension_name": null}` would blank a required column.)
 */
export const IsOmittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);
