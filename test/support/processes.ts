import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import mysql from 'mysql2/promise';
import { ADMIN_TOKEN, PBX_TOKEN, type suiteResources } from './test-app.js';

/** Compiles the service once, as `npm start` does, so that tests can run the real entry points as processes. */
export function buildService(): void {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

/**
 * The compiled service for a suite, prepared as `npm start` prepares it: built, a fresh database of the suite's
 * own, migrated by the real migrate command. Returns the environment every process of the suite starts from.
 */
export async function prepareCompiledService(
  resources: ReturnType<typeof suiteResources>,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  buildService();
  const server = await mysql.createConnection({ uri: resources.databaseUrl.replace(/\/[^/]*$/, '/') });
  await server.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
  await server.query(`CREATE DATABASE \`${resources.databaseName}\``);
  await server.end();
  const env = {
    DATABASE_URL: resources.databaseUrl,
    REDIS_URL: resources.redisUrl,
    QUEUE_PREFIX: resources.queuePrefix,
    ADMIN_TOKEN,
    PBX_TOKEN,
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    ...extra,
  };
  const migrate = runService('database/migrate', env);
  const { code } = await migrate.exited;
  if (code !== 0) throw new Error(`migrating the suite's database failed:\n${migrate.output()}`);
  return env;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput: (text: string, timeoutMs?: number) => Promise<void>;
}

/** Runs `node dist/src/<entry>.js` with the given environment, collecting what it prints. */
export function runService(
  entry: 'main' | 'worker' | 'database/migrate' | 'config/check-config',
  env: Record<string, string>,
  args: string[] = [],
): ServiceProcess {
  return runCommand(process.execPath, [`dist/src/${entry}.js`, ...args], env);
}

/** Runs any command (`npm start`, …) in the checkout with the given environment, collecting what it prints. */
export function runCommand(command: string, args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForOutput = async (text: string, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`"${text}" never printed; output:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, output: () => output, exited, waitForOutput };
}
