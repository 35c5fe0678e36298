import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryRunner } from 'typeorm';

/**
 * Stored procedures have one current definition each: a `.sql` file beside the repository that calls it (its name is
 * the procedure's). Migrations apply that file with `replaceProcedure`; test/procedures.e2e-spec.ts checks that the
 * live database holds exactly it.
 */
export const PROCEDURE_FILES = {
  change_agents: '../status/change_agents.sql',
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

/** Puts the current definition of a procedure in place (a migration's step). */
export async function replaceProcedure(queryRunner: QueryRunner, name: ProcedureName): Promise<void> {
  await queryRunner.query(`DROP PROCEDURE IF EXISTS ${name}`);
  await queryRunner.query(procedureDefinition(name));
}
