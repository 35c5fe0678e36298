import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROCEDURE_FILES, procedureBody, type ProcedureName } from '../src/database/procedures.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** Every .ts file under a folder. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Each stored procedure has one current definition, the .sql file beside its repository, and the database holds it. */
describe('stored procedures', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp('procedures');
  });
  afterAll(() => t.close());

  // Fails when a .sql file changed without a new migration that applies it (see src/database/procedures.ts).
  it('after the migrations, the live definition of each procedure is its .sql file', async () => {
    const live = await t.sql<{ name: string; body: string }>(
      'SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_NAME',
    );
    expect(live.map((routine) => routine.name)).toEqual(Object.keys(PROCEDURE_FILES).sort());
    for (const routine of live) {
      expect(routine.body.trim()).toBe(procedureBody(routine.name as ProcedureName));
    }
  });

  it('no TypeScript file holds a procedure body of its own', () => {
    const withBodies = sources('src').filter((file) => /CREATE\s+PROCEDURE\s+\w+\s*\(/i.test(readFileSync(file, 'utf8')));
    expect(withBodies).toEqual([]);
  });
});
