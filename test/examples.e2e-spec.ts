import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signPayload } from '#webhook';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { freePort } from './support/processes.js';
import { eventually, Receiver, type ReceivedRequest } from './support/receiver.js';
import { signingSecretOf } from './support/signature.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

/** PHP's command-line interpreter: as root it is installed with apt-get when missing; otherwise the PHP example is skipped. */
function ensurePhp(): boolean {
  const found = () => spawnSync('php', ['--version']).status === 0;
  if (found()) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', 'php-cli'], { env, stdio: 'ignore' });
    if (found()) return true;
  }
  console.warn('Skipping the PHP receiver example: php is not installed (apt-get install -y php-cli).');
  return false;
}

type Command = (port: number) => [program: string, args: string[], env: Record<string, string>];

const EXAMPLES: { name: string; method: 'GET' | 'POST'; command: Command }[] = [
  {
    name: 'Node (standardwebhooks)',
    method: 'POST',
    command: (port: number) => ['node', ['examples/node/receiver.mjs'], { PORT: String(port) }],
  },
  { name: 'PHP (show.php)', method: 'GET', command: (port: number) => ['php', ['-S', `127.0.0.1:${port}`, 'examples/php/show.php'], {}] },
  {
    name: 'Python (standard library)',
    method: 'GET',
    command: (port: number) => ['python3', ['examples/python/receiver.py'], { PORT: String(port) }],
  },
];

/**
 * Each receiver example under examples/ gets real deliveries and a sync from the service, drops a webhook whose sequence
 * is not newer than the last it applied for the agent, and refuses a tampered or old one.
 */
describe('receiver examples', () => {
  const php = ensurePhp();
  let t: TestApp;
  let recorder: Receiver;
  let example: { child: ChildProcess; output: () => string } | undefined;

  // The PHP example keeps the sequences it applied in a file under TMPDIR: one of the run's own.
  const tmp = mkdtempSync(join(tmpdir(), 'ae-examples-'));

  beforeAll(async () => {
    t = await createTestApp('examples', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0' }, { withWorker: true });
    recorder = await new Receiver().start();
  });
  afterAll(async () => {
    await recorder.stop();
    await t.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  afterEach(() => {
    example?.child.kill('SIGKILL');
    example = undefined;
  });

  for (const { name, method, command } of EXAMPLES) {
    (name.startsWith('PHP') && !php ? it.skip : it)(
      `${name}: accepts a real ${method} delivery and a sync, drops an older sequence, and refuses a tampered or old request`,
      async () => {
        const port = await freePort();
        const url = `http://127.0.0.1:${port}/fordel/show.php?site=1`;
        // The same logins go to the example and to a recorder, whose copy of the first is then replayed, tampered and aged.
        const agent = await agentWithEvents(t, { extension_name: '000*094@ringme.ru' }, [
          { url, event_type: 'agent-login', method },
          { url: recorder.url('/copy?site=1'), event_type: 'agent-login', method },
        ]);
        const secret = await signingSecretOf(t, agent.clientId);
        const [program, args, env] = command(port);
        example = start(program, args, { ...env, WEBHOOK_SECRET: secret, TMPDIR: tmp });
        await listening(port);
        /** The example's deliveries, once `count` of them have succeeded, in the order of their changes. */
        const delivered = (count: number) =>
          eventually(async () => {
            const rows = await t.sql<{ id: string; state: string; last_status_code: number }>(
              'SELECT id, state, last_status_code FROM deliveries WHERE agent_event_id = ? ORDER BY created_at, id',
              [agent.eventIds[0]],
            );
            return rows.filter((row) => row.state === 'succeeded').length === count && rows;
          });

        const before = recorder.requests.length;
        await agent.setStatus('available');
        const [first] = await delivered(1);
        expect(first.last_status_code).toBe(204);
        await eventually(async () => example?.output().includes(`verified ${first.id}`));
        expect(example.output()).toContain('000*094@ringme.ru');
        await agent.setStatus('logged_out');
        await agent.setStatus('available');
        const [, third] = await delivered(2);
        await eventually(async () => example?.output().includes(`verified ${third.id}`));

        // The first login again, after the second: its sequence (1) is not newer than 3, so it is dropped, answered 200.
        const copy = (await recorder.waitFor(before + 1))[before];
        expect(copy.headers['agent-event-sequence']).toBe('1');
        const content = copy.method === 'GET' ? copy.url.slice(copy.url.indexOf('agent_status=')) : copy.body;
        expect(await replay(port, copy, content)).toBe(200);
        await eventually(async () => example?.output().includes(`dropped ${copy.headers['webhook-id']}`));

        // A sync of a newer state (the logout, sequence 4, that the agent-login event did not send) is applied.
        await agent.setStatus('logged_out');
        const sync = await t.http().post(`${agent.base}/event/${agent.eventIds[0]}/sync`).set(admin).expect(202);
        await eventually(async () => example?.output().includes(`verified ${sync.body.id} (sync)`));

        expect(await replay(port, copy, content.replace('agent_status=available', 'agent_status=logged_out'))).toBe(401);
        const old = Math.floor(Date.now() / 1000) - 600;
        const oldHeaders = {
          'webhook-timestamp': String(old),
          'webhook-signature': signPayload(secret, copy.headers['webhook-id'] as string, old, content),
        };
        expect(await replay(port, copy, content, oldHeaders)).toBe(401);
        await eventually(async () => /refused.*timestamp/i.test(example?.output() ?? ''));
      },
    );
  }
});

function start(program: string, args: string[], env: Record<string, string>) {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function listening(port: number): Promise<void> {
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        const probe = http.get({ host: '127.0.0.1', port, path: '/' }, (response) => {
          response.resume();
          resolve(true);
        });
        probe.on('error', () => resolve(false));
      }),
    20_000,
  );
}

/** Sends the recorded request to the example again, with `content` as its payload and the given headers replaced. */
function replay(port: number, copy: ReceivedRequest, content: string, headers: Record<string, string> = {}): Promise<number> {
  const path = copy.method === 'GET' ? `/fordel/show.php?site=1&${content}` : '/fordel/show.php?site=1';
  return new Promise((resolve, reject) => {
    const sent = http.request(
      {
        host: '127.0.0.1',
        port,
        method: copy.method,
        path,
        headers: {
          'webhook-id': copy.headers['webhook-id'] as string,
          'webhook-timestamp': copy.headers['webhook-timestamp'] as string,
          'webhook-signature': copy.headers['webhook-signature'] as string,
          'agent-event-sequence': copy.headers['agent-event-sequence'] as string,
          ...(copy.method === 'POST'
            ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(content) }
            : {}),
          ...headers,
        },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    sent.on('error', reject);
    sent.end(copy.method === 'POST' ? content : undefined);
  });
}
