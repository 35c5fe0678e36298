import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { freePort } from './processes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isRoot = () => process.getuid?.() === 0;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up in ${timeoutMs} ms`);
    await sleep(100);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A MariaDB of the test's own (its own data directory and port, never the shared server), which the test can
 * stop and start again on the same data, as an outage would.
 */
export class OwnMariaDb {
  readonly dir = mkdtempSync(join(tmpdir(), 'ae-mariadb-'));
  private child?: ChildProcess;
  port = 0;

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}`;
  }

  async install(): Promise<this> {
    this.port = await freePort();
    // mariadbd refuses to run as root: it runs as `mysql`, which must be able to reach its directory.
    chmodSync(this.dir, 0o755);
    if (isRoot()) chownSync(this.dir, Number(spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' }).stdout.trim()), 0);
    const install = spawnSync(
      'mariadb-install-db',
      [
        `--datadir=${join(this.dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(isRoot() ? ['--user=mysql'] : []),
      ],
      { encoding: 'utf8' },
    );
    if (install.status !== 0) throw new Error(`mariadb-install-db failed:\n${install.stdout}${install.stderr}`);
    return this;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--port=${this.port}`,
        `--socket=${join(this.dir, 'mariadb.sock')}`,
        '--bind-address=127.0.0.1',
        '--innodb-buffer-pool-size=32M',
        '--skip-log-bin',
        ...(isRoot() ? ['--user=mysql'] : []),
      ],
      { stdio: 'ignore' },
    );
    await until('MariaDB', async () => {
      const connection = await mysql.createConnection({ uri: this.url });
      await connection.end();
      return true;
    });
  }

  /** A clean shutdown (SIGTERM), as when the server is stopped or restarted. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    await exited(this.child);
    this.child = undefined;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A redis-server of the test's own, without persistence: stopping it loses every key, as a Redis restart can. */
export class OwnRedis {
  private child?: ChildProcess;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await until('Redis', async () => {
      const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        return (await redis.ping()) === 'PONG';
      } finally {
        redis.disconnect();
      }
    });
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await exited(this.child);
    this.child = undefined;
  }
}
