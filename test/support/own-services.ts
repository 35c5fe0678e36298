import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** `redis-cli` against a server of the test's own; its output, or an error with it. */
function redisCli(port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Stops the suite with one sentence when this machine cannot run the Redis servers it needs. */
function requireRedisTools(): void {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version'], { encoding: 'utf8' }).status !== 0) {
      throw new Error(`${tool} is needed for this suite (apt-get install redis-server gives both).`);
    }
  }
}

/** A redis-server process without persistence, started with these extra arguments; it keeps what it prints. */
function redisServer(port: number, args: string[], dir: string): ChildProcess {
  return keepingOutput(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args]),
  );
}

const printed = new WeakMap<ChildProcess, string>();

/** Keeps the last few kB a process prints, for the error that says why it did not come up. */
function keepingOutput(child: ChildProcess): ChildProcess {
  printed.set(child, '');
  const keep = (chunk: Buffer) => printed.set(child, (printed.get(child)! + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

/**
 * A redis-server on a loopback port picked free just before it starts. Another process may take that port (or the
 * cluster bus port) between the pick and the server's bind, and the server then exits at once: it is started again on
 * other ports, up to 5 times. `taken` holds the ports of the set-up's other servers, never picked again.
 */
async function redisOnFreePort(
  what: string,
  taken: Set<number>,
  spawnOn: (port: number) => Promise<ChildProcess>,
): Promise<{ port: number; child: ChildProcess }> {
  let output = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePortOutside(taken);
    const child = await spawnOn(port);
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    await until(what, async () => gone() || redisCli(port, 'PING').trim() === 'PONG').catch((error: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${error.message}; it printed:\n${printed.get(child)}`);
    });
    if (!gone()) {
      taken.add(port);
      return { port, child };
    }
    output = printed.get(child) ?? '';
  }
  throw new Error(`${what} exited at once on 5 free ports in a row; it printed:\n${output}`);
}

async function freePortOutside(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
}

async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}

/** A Redis Cluster of the test's own: 3 masters with a replica each, on loopback ports of its own. */
export class OwnRedisCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'ae-cluster-'));
  readonly nodes: { port: number; child: ChildProcess }[] = [];

  async start(): Promise<this> {
    requireRedisTools();
    const taken = new Set<number>();
    for (let index = 0; index < 6; index++) {
      this.nodes.push(
        await redisOnFreePort('a cluster node', taken, async (port) => {
          // The cluster bus gets a port of its own too (the default, port + 10000, may not exist).
          const busPort = await freePortOutside(taken);
          taken.add(busPort);
          const args = ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`];
          // A failed master is taken over by its replica after 2 s without an answer.
          return redisServer(port, [...args, '--cluster-node-timeout', '2000'], this.dir);
        }),
      );
    }
    redisCli(
      this.nodes[0].port,
      '--cluster',
      'create',
      ...this.nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    );
    await until('the cluster', async () => this.nodes.every((node) => redisCli(node.port, 'CLUSTER', 'INFO').includes('cluster_state:ok')));
    return this;
  }

  /** The master that owns the hash slot of this key (of a queue prefix's hash tag), and a master that does not. */
  masters(key: string): { owner: number; other: number } {
    // Asked of a node still running: a test may have killed any of them.
    const live = this.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
    const slot = Number(redisCli(live[0].port, 'CLUSTER', 'KEYSLOT', key).trim());
    // CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>`.
    const masters = redisCli(live[0].port, 'CLUSTER', 'NODES')
      .split('\n')
      .map((line) => line.trim().split(' '))
      .filter(([, , flags]) => flags?.split(',').includes('master') && !flags.includes('fail'))
      .map(([, address, , , , , , , ...ranges]) => ({ port: Number(address.split('@')[0].split(':').pop()), ranges }));
    const owns = (ranges: string[]) =>
      ranges.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from && slot <= to;
      });
    return { owner: masters.find((master) => owns(master.ranges))!.port, other: masters.find((master) => !owns(master.ranges))!.port };
  }

  async kill(port: number): Promise<void> {
    await kill(this.nodes.find((node) => node.port === port)!.child);
  }

  async remove(): Promise<void> {
    await Promise.all(this.nodes.map((node) => kill(node.child)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Sentinel set-up of the test's own: one master, one replica and three sentinels watching them as `ae-master`. */
export class OwnRedisSentinels {
  readonly name = 'ae-master';
  readonly dir = mkdtempSync(join(tmpdir(), 'ae-sentinel-'));
  readonly servers: { port: number; child: ChildProcess }[] = [];
  readonly sentinels: { port: number; child: ChildProcess }[] = [];

  async start(): Promise<this> {
    requireRedisTools();
    const taken = new Set<number>();
    const master = await redisOnFreePort('the master', taken, async (port) => redisServer(port, [], this.dir));
    this.servers.push(master);
    this.servers.push(
      await redisOnFreePort('the replica', taken, async (port) =>
        redisServer(port, ['--replicaof', '127.0.0.1', String(master.port)], this.dir),
      ),
    );
    await until('the replica', async () => redisCli(this.servers[1].port, 'INFO', 'replication').includes('master_link_status:up'));
    for (let index = 0; index < 3; index++) {
      this.sentinels.push(
        await redisOnFreePort('a sentinel', taken, async (port) => {
          // A sentinel rewrites its configuration file: each has one of its own. A master silent for 1 s is failed over.
          const file = join(this.dir, `sentinel-${port}.conf`);
          writeFileSync(
            file,
            [
              `port ${port}`,
              'bind 127.0.0.1',
              `dir ${this.dir}`,
              `sentinel monitor ${this.name} 127.0.0.1 ${master.port} 2`,
              `sentinel down-after-milliseconds ${this.name} 1000`,
              `sentinel failover-timeout ${this.name} 5000`,
              '',
            ].join('\n'),
          );
          return keepingOutput(spawn('redis-server', [file, '--sentinel']));
        }),
      );
    }
    await until('the sentinels', async () =>
      this.sentinels.every((sentinel) =>
        /num-other-sentinels\s+2/.test(redisCli(sentinel.port, 'SENTINEL', 'MASTER', this.name).replace(/\n/g, ' ')),
      ),
    );
    return this;
  }

  /** `host:port,…` of the sentinels, for REDIS_SENTINELS. */
  get addresses(): string {
    return this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',');
  }

  /** The port of the master the sentinels name now. */
  master(): number {
    return Number(redisCli(this.sentinels[0].port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name).trim().split('\n')[1]);
  }

  async kill(port: number): Promise<void> {
    await kill(this.servers.find((server) => server.port === port)!.child);
  }

  async remove(): Promise<void> {
    await Promise.all([...this.servers, ...this.sentinels].map((server) => kill(server.child)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
