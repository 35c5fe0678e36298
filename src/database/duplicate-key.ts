import { QueryFailedError } from 'typeorm';

/** A write refused by a unique key (MySQL's ER_DUP_ENTRY): the caller answers 409 for it. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string })?.code === 'ER_DUP_ENTRY';
}
