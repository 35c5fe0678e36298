import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryRunner } from 'typeorm';

/**
 * Stored procedures have one current definition each: a `.sql` file beside the repository that calls it (its name is
 * the procedure's). A migration applies that file with `replaceProcedure`, naming the SHA-256 of the definition it was
 * written for; test/procedures.e2e-spec.ts checks that the migrated database holds exactly the file. So a change to a
 * `.sql` file needs a new migration that applies it (with the new hash), or that test fails: a database migrated
 * before the change would otherwise keep the old body.
 */
export const PROCEDURE_FILES = {
  change_agent: '../status/change_agent.sql',
  change_agents: '../status/change_agents.sql',
  record_attempt: '../deliveries/record_attempt.sql',
  record_attempts: '../deliveries/record_attempts.sql',
} as const;

export type ProcedureName = keyof typeof PROCEDURE_FILES;

/**
 * The file's path: beside this module in the source tree, or, when this runs compiled from `dist/` (which holds no
 * `.sql` files), in the source tree it was compiled from.
 */
export function procedurePath(name: ProcedureName): string {
  const path = fileURLToPath(new URL(PROCEDURE_FILES[name], import.meta.url));
  if (existsSync(path)) return path;
  const source = path.replace(/([\\/])dist([\\/])src([\\/])/, '$1src$3');
  if (existsSync(source)) return source;
  throw new Error(`the definition of procedure ${name} is not at ${path} or ${source}`);
}

/** The `CREATE PROCEDURE …` statement of a procedure, without the file's leading comment. */
export function procedureDefinition(name: ProcedureName): string {
  const text = readFileSync(procedurePath(name), 'utf8');
  const start = text.indexOf('CREATE PROCEDURE');
  if (start < 0 || basename(procedurePath(name), '.sql') !== name) throw new Error(`${procedurePath(name)} does not create ${name}`);
  return text.slice(start).trim();
}

/** The procedure's body as the database reports it (`information_schema.ROUTINES.ROUTINE_DEFINITION`): from BEGIN. */
export function procedureBody(name: ProcedureName): string {
  const definition = procedureDefinition(name);
  return definition.slice(definition.indexOf('BEGIN')).trim();
}

/** The SHA-256 (hex) of a procedure's current definition, as a migration names it. */
export function procedureHash(name: ProcedureName): string {
  return createHash('sha256').update(procedureDefinition(name)).digest('hex');
}

/**
 * A migration's step: puts the procedure's definition in place if the file still holds the definition this migration
 * was written for (`sha256`). When the file has changed since, a later migration applies the newer one, so this step
 * does nothing: the database never runs a definition its schema at this point does not fit.
 */
export async function replaceProcedure(queryRunner: QueryRunner, name: ProcedureName, sha256: string): Promise<void> {
  if (procedureHash(name) !== sha256) return;
  await queryRunner.query(`DROP PROCEDURE IF EXISTS ${name}`);
  await queryRunner.query(procedureDefinition(name));
}
