import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import { eventually, Receiver } from './support/receiver.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from './support/processes.js';
import { ADMIN_TOKEN, admin, deleteQueueKeys, suiteResources } from './support/test-app.js';

/** API and worker as separate processes, the way they run in production. */
describe('the service as processes', () => {
  const resources = suiteResources('processes');
  const running: ServiceProcess[] = [];
  let env: Record<string, string>;
  let api: ServiceProcess;
  let base: string;
  let pool: mysql.Pool;
  let receiver: Receiver;

  const start = (entry: 'main' | 'worker', args: string[] = []) => {
    const service = runService(entry, env, args);
    running.push(service);
    return service;
  };
  /** A worker process, once it takes jobs: on a machine busy with other suites a boot can take most of 20 s. */
  const startWorker = async () => {
    const worker = start('worker');
    await worker.waitForOutput('Delivery worker running', 60_000);
    return worker;
  };
  /** The receiver's first `count` requests; on a timeout the error carries what the worker printed. */
  const receivedFrom = (worker: ServiceProcess, count = 1) =>
    receiver.waitFor(count, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; the worker printed:\n${worker.output()}`);
    });

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = await prepareCompiledService(resources, {
      PORT: String(port),
      WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms',
      WORKER_LOCK_MS: '1500',
      RECONCILE_INTERVAL_MS: '500',
      SHUTDOWN_GRACE_MS: '8000',
    });
    api = start('main');
    // The banner's last line: every line before it has been printed.
    await api.waitForOutput('Delivery worker:', 60_000);
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 2 });
  }, 120_000);

  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await pool.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool.end();
    const redis = new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  let clients = 0;
  async function loggedInAgent(): Promise<{ clientId: string; agentId: number }> {
    const clientId = `p${++clients}`;
    await request(base).post('/client/').set(admin).send({ id: clientId, name: 'Process test' }).expect(201);
    const agent = await request(base)
      .post(`/client/${clientId}/agent/local/`)
      .set(admin)
      .send({ extension_name: `${clientId}@ringme.ru` })
      .expect(201);
    await request(base)
      .post(`/client/${clientId}/agent/local/${agent.body.id}/event/`)
      .set(admin)
      .send({ url: receiver.url(), event_type: 'agent-login', method: 'GET' })
      .expect(201);
    await request(base).put(`/client/${clientId}/agent/local/${agent.body.id}`).set(admin).send({ status: 'available' }).expect(200);
    return { clientId, agentId: agent.body.id };
  }

  const deliveryState = async (clientId: string) => {
    const [rows] = await pool.query('SELECT id, state, attempts FROM deliveries WHERE client_id = ?', [clientId]);
    return (rows as { id: string; state: string; attempts: number }[])[0];
  };

  it('prints where the API, Swagger UI, health and Bull Board are, and answers health', async () => {
    for (const line of ['API ', 'Swagger UI', '/docs', 'Health', '/health', 'Bull Board', '/admin/queues', 'Admin token']) {
      expect(api.output()).toContain(line);
    }
    await request(base).get('/health').expect(200, { status: 'ok', mysql: 'up', redis: 'up' });
  });

  it('shows the delivery queue in Bull Board behind basic auth (user admin, the admin token)', async () => {
    await request(base).get('/admin/queues').expect(401);
    await request(base).get('/admin/queues').auth('admin', 'wrong-password').expect(401);
    const page = await request(base).get('/admin/queues').auth('admin', ADMIN_TOKEN).expect(200);
    expect(page.text).toContain('<html');
    const queues = await request(base).get('/admin/queues/api/queues').auth('admin', ADMIN_TOKEN).expect(200);
    expect(JSON.stringify(queues.body)).toContain('webhooks');
  });

  /**
   * Fetches a page and every script and stylesheet it names from this origin, and checks each against the page's
   * Content-Security-Policy: a browser would refuse what the policy does not allow.
   */
  async function expectPageLoadsUnderItsPolicy(path: string, auth?: [string, string]) {
    const get = (url: string) => {
      const call = request(base).get(url).redirects(2);
      return auth ? call.auth(...auth) : call;
    };
    const page = await get(path).expect(200);
    const policy = Object.fromEntries(
      String(page.headers['content-security-policy'])
        .split(';')
        .map((directive) => directive.trim().split(/\s+/))
        .map(([name, ...sources]) => [name, sources]),
    );
    const allows = (directive: string, url: URL) => {
      const sources: string[] = policy[directive] ?? policy['default-src'] ?? [];
      return url.origin === base ? sources.includes("'self'") : sources.some((source) => url.href.startsWith(source));
    };
    const pageUrl = new URL(page.redirects.at(-1) ?? `${base}${path}`);
    const baseHref = /<base href="([^"]+)"/.exec(page.text)?.[1];
    const resolveFrom = new URL(baseHref ?? pageUrl.href, pageUrl);
    const scripts = [...page.text.matchAll(/<script([^>]*)>/g)].map(([, attributes]) => attributes);
    for (const attributes of scripts) {
      const src = /src=["']([^"']+)["']/.exec(attributes)?.[1];
      // An inline script runs only under 'unsafe-inline' or a hash; a JSON data block is not run.
      if (!src) expect(attributes).toMatch(/type="application\/json"/);
    }
    const assets = [
      ...[...page.text.matchAll(/<script[^>]*src=["']([^"']+)["']/g)].map(([, src]) => ['script-src', src]),
      ...[
        ...page.text.matchAll(/<link[^>]*href=["']([^"']+)["'][^>]*rel="stylesheet"|<link[^>]*rel="stylesheet"[^>]*href=["']([^"']+)["']/g),
      ].map(([, first, second]) => ['style-src', first ?? second]),
    ];
    expect(assets.length).toBeGreaterThan(1);
    for (const [directive, href] of assets) {
      const url = new URL(href, resolveFrom);
      expect([href, allows(directive, url)]).toEqual([href, true]);
      if (url.origin === base) await get(url.pathname + url.search).expect(200);
    }
  }

  it('serves Swagger UI and Bull Board under a Content-Security-Policy their pages and assets fit', async () => {
    await expectPageLoadsUnderItsPolicy('/docs');
    await expectPageLoadsUnderItsPolicy('/admin/queues', ['admin', ADMIN_TOKEN]);
    const api = await request(base).get('/health').expect(200);
    expect(api.headers['x-powered-by']).toBeUndefined();
    expect(api.headers['x-content-type-options']).toBe('nosniff');
  });

  it('keeps a delivery committed while no worker runs, and a worker started later sends it', async () => {
    const { clientId } = await loggedInAgent();
    expect(await deliveryState(clientId)).toMatchObject({ state: 'pending', attempts: 0 });
    const worker = await startWorker();
    await receivedFrom(worker);
    await eventually(async () => (await deliveryState(clientId))?.state === 'succeeded', 20_000);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  }, 150_000);

  it('still delivers when the worker is killed with SIGKILL while a slow receiver holds the request', async () => {
    receiver.reply({ status: 200, delayMs: 60_000 });
    const doomed = start('worker');
    const { clientId } = await loggedInAgent();
    // Bounded generously: on a machine busy with other suites a worker process can take most of 15 s to boot.
    const [first] = await receiver.waitFor(1, 60_000);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const replacement = start('worker');
    const requests = await receiver.waitFor(2, 90_000);
    expect(requests[1].headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(requests[1].url).toBe(first.url);
    await eventually(async () => (await deliveryState(clientId))?.state === 'succeeded', 20_000);
    replacement.child.kill('SIGTERM');
    expect((await replacement.exited).code).toBe(0);
    // Two worker boots, the lost job's lock running out and two requests: minutes on a machine busy with other suites.
  }, 240_000);

  it('accepts a status change while Redis is unreachable, and the committed delivery is sent once a worker can reach Redis', async () => {
    const port = await freePort();
    // Same database, but a Redis address where nothing listens.
    const cut = runService('main', { ...env, PORT: String(port), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    running.push(cut);
    await cut.waitForOutput('Delivery worker:', 60_000);
    const cutBase = `http://127.0.0.1:${port}`;
    const health = await request(cutBase).get('/health').expect(503);
    expect(health.body).toEqual({ message: 'redis is not answering', status: 'unavailable' });

    const clientId = `p${++clients}`;
    await request(cutBase).post('/client/').set(admin).send({ id: clientId, name: 'No Redis' }).expect(201);
    const agent = await request(cutBase)
      .post(`/client/${clientId}/agent/local/`)
      .set(admin)
      .send({ extension_name: 'noredis@ringme.ru' })
      .expect(201);
    await request(cutBase)
      .post(`/client/${clientId}/agent/local/${agent.body.id}/event/`)
      .set(admin)
      .send({ url: receiver.url(), event_type: 'agent-login', method: 'POST' })
      .expect(201);
    await request(cutBase).put(`/client/${clientId}/agent/local/${agent.body.id}`).set(admin).send({ status: 'available' }).expect(200);
    expect(await deliveryState(clientId)).toMatchObject({ state: 'pending', attempts: 0 });

    const worker = await startWorker();
    const [received] = await receivedFrom(worker);
    expect(received.body).toBe(
      `agent_status=available&agent_type=local&event_source=api&agent_id=${agent.body.id}&extension_name=noredis%40ringme.ru`,
    );
    await eventually(async () => (await deliveryState(clientId))?.state === 'succeeded');
    worker.child.kill('SIGTERM');
    await worker.exited;
  }, 150_000);

  it('refuses to start with invalid configuration, in one sentence naming the variable', async () => {
    const broken = runService('main', { ...env, PORT: 'abc' });
    expect((await broken.exited).code).toBe(1);
    expect(broken.output()).toContain('agent-events: PORT must be a whole number');
    const production = runService('worker', { ...env, NODE_ENV: 'production', ADMIN_TOKEN: 'change-me-admin-token' });
    expect((await production.exited).code).toBe(1);
    expect(production.output()).toContain('ADMIN_TOKEN is the example token');
  });

  it('stops the API on SIGTERM: exits 0 and no longer accepts connections', async () => {
    const port = await freePort();
    const doomed = runService('main', { ...env, PORT: String(port) });
    running.push(doomed);
    await doomed.waitForOutput('Delivery worker:', 60_000);
    await request(`http://127.0.0.1:${port}`).get('/health').expect(200);
    doomed.child.kill('SIGTERM');
    expect(await doomed.exited).toEqual({ code: 0, signal: null });
    await expect(request(`http://127.0.0.1:${port}`).get('/health')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('on SIGTERM lets the in-flight request finish, records it, and exits 0', async () => {
    receiver.reply({ status: 200, delayMs: 1500, body: 'slow but fine' });
    const worker = await startWorker();
    const { clientId } = await loggedInAgent();
    await receivedFrom(worker);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await deliveryState(clientId)).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(receiver.requests).toHaveLength(1);
  }, 150_000);
});
