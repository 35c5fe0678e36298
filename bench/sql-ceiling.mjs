// `node bench/sql-ceiling.mjs`: the SQL ceiling alone (bench/lib/sql-ceiling.mjs), for quick runs, then MariaDB's CPU
// per status change by batch size (a change alone through `change_agent`; 1, 8, 32 changes per `change_agents` call). A database of its own
// (ae_ceiling_<stamp>), migrated by the service's own command, dropped at the end.
//
//   BENCH_SQL_CEILING_SECONDS (15; 5 with BENCH_QUICK=1) · BENCH_CEILING_CONNECTIONS (64) · BENCH_CEILING_AGENTS (640)
//   BENCH_SKIP_BUILD=1 · BENCH_KEEP=1 (keep the database)
import { randomBytes } from 'node:crypto';
import { config } from './lib/config.mjs';
import { build, cleanUpOnExit, databaseUrlFor, dropDatabase, runService, serviceEnv } from './lib/infra.mjs';
import { measureChangeBatches, measureSqlCeiling } from './lib/sql-ceiling.mjs';
import { createDatabase } from '../scripts/services.mjs';

const log = (line) => console.log(`[sql-ceiling] ${line}`);
const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14) + randomBytes(2).toString('hex');
const databaseName = `ae_ceiling_${stamp}`;
const databaseUrl = databaseUrlFor(config.databaseUrl, databaseName);
let created = false;

async function cleanup() {
  if (!created || config.keep) return;
  created = false;
  await dropDatabase(config.databaseUrl, databaseName).catch((error) => log(`could not drop ${databaseName}: ${error.message}`));
}
const deadline = cleanUpOnExit(cleanup, config.maxSeconds, log);

let exitCode = 0;
try {
  if (!config.skipBuild) build();
  await createDatabase(databaseUrl);
  created = true;
  const env = serviceEnv({
    databaseUrl,
    queuePrefix: `{ae-ceiling-${stamp}}`,
    adminToken: `bench-admin-${randomBytes(12).toString('hex')}`,
  });
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const connections = Number(process.env.BENCH_CEILING_CONNECTIONS || 64);
  const agents = Number(process.env.BENCH_CEILING_AGENTS || 640);
  log(`database ${databaseName}: ${connections} connections, ${agents} agents, ${config.sqlCeilingSeconds} s`);
  const result = await measureSqlCeiling({ databaseUrl, connections, agents, seconds: config.sqlCeilingSeconds });
  console.log(JSON.stringify(result, null, 1));
  log(
    `${result.deliveriesPerSecond} deliveries/s (${result.changesPerSecond} changes/s); per delivery: ${result.statementsPerDelivery} statements, ` +
      `MariaDB ${result.mariadbCpuMsPerDelivery} CPU ms, this process ${result.benchCpuMsPerDelivery} CPU ms; checks ${result.ok ? 'ok' : 'FAILED'}`,
  );
  if (!result.ok) exitCode = 1;
  const batches = await measureChangeBatches({ databaseUrl });
  for (const { size, mariadbCpuMsPerChange, msPerCall } of batches) {
    const what = size === 'alone' ? 'change_agent, a change alone' : `change_agents, batches of ${size}`;
    log(`${what}: MariaDB ${mariadbCpuMsPerChange} CPU ms per change, ${msPerCall} ms per call (one connection)`);
  }
} catch (error) {
  exitCode = 1;
  console.error(`sql-ceiling failed: ${error.stack ?? error}`);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(exitCode);
