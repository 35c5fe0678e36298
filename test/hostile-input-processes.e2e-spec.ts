import { Queue } from 'bullmq';
import http from 'node:http';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import request from 'supertest';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from './support/processes.js';
import { ADMIN_TOKEN, deleteQueueKeys, suiteResources } from './support/test-app.js';
import { probe } from './support/raw-http.js';

const EVIL = 'https://evil.example';
const basic = `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`;

/** A request exactly as a cross-site page makes it: a `text/plain` POST (no preflight) with the browser's cached credentials. */
function rawPost(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(`${base}${path}`, { method: 'POST', headers, agent: false }, (incoming) => {
      let body = '';
      incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
    });
    outgoing.on('error', reject);
    outgoing.end('{}');
  });
}

/** Findings 2 and 4, on the compiled service: Bull Board refuses cross-site writes; the worker's port is on HOST. */
describe('hostile input: the compiled service', () => {
  const resources = suiteResources('hostile_processes');
  const running: ServiceProcess[] = [];
  let env: Record<string, string>;
  let writable: string;
  let readOnly: string;
  let queue: Queue;

  const start = (entry: 'main' | 'worker', extra: Record<string, string>) => {
    const service = runService(entry, { ...env, ...extra });
    running.push(service);
    return service;
  };

  beforeAll(async () => {
    env = await prepareCompiledService(resources);
    const [port, readOnlyPort] = [await freePort(), await freePort()];
    writable = `http://127.0.0.1:${port}`;
    readOnly = `http://127.0.0.1:${readOnlyPort}`;
    const api = start('main', { PORT: String(port) });
    const readOnlyApi = start('main', { PORT: String(readOnlyPort), BULL_BOARD_READ_ONLY: 'true' });
    await Promise.all([api.waitForOutput('Delivery worker:', 60_000), readOnlyApi.waitForOutput('Delivery worker:', 60_000)]);
    queue = new Queue('webhooks', { connection: { url: resources.redisUrl }, prefix: resources.queuePrefix });
  }, 180_000);

  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await queue?.close();
    const pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 1 });
    await pool.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool.end();
    const redis = new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  const jobs = async () => Object.values(await queue.getJobCounts()).reduce((sum, count) => sum + count, 0);

  it('refuses a cross-site POST to Bull Board with 403 {message, status}, whatever credentials the browser adds, and stores no job', async () => {
    const before = await jobs();
    for (const headers of <Record<string, string>[]>[
      { 'Content-Type': 'text/plain', Origin: EVIL, Authorization: basic },
      { 'Content-Type': 'text/plain', Origin: EVIL, 'Sec-Fetch-Site': 'cross-site', Authorization: basic },
      { 'Content-Type': 'text/plain', 'Sec-Fetch-Site': 'same-site', Authorization: basic },
      { 'Content-Type': 'text/plain', Origin: 'null', Authorization: basic },
      { 'Content-Type': 'text/plain', Authorization: basic },
    ]) {
      const answer = await rawPost(writable, '/admin/queues/api/queues/webhooks/add', headers);
      expect({ headers, status: answer.status }).toEqual({ headers, status: 403 });
      expect(JSON.parse(answer.body)).toEqual({ message: expect.stringContaining('same origin'), status: 'access_denied' });
    }
    expect(await jobs()).toBe(before);
  });

  it("lets Bull Board's own pages change the queue: a same-origin request, by Origin or by Sec-Fetch-Site", async () => {
    await request(writable)
      .put('/admin/queues/api/queues/webhooks/clean/completed')
      .auth('admin', ADMIN_TOKEN)
      .set('Origin', writable)
      .expect(200);
    await request(writable)
      .put('/admin/queues/api/queues/webhooks/clean/completed')
      .auth('admin', ADMIN_TOKEN)
      .set('Sec-Fetch-Site', 'same-origin')
      .expect(200);
    // Credentials first: without them, 401 whatever the origin.
    await request(writable).put('/admin/queues/api/queues/webhooks/clean/completed').set('Origin', writable).expect(401);
  });

  it('with BULL_BOARD_READ_ONLY=true shows the queue read-only and refuses every change, same-origin or not', async () => {
    const queues = await request(readOnly).get('/admin/queues/api/queues').auth('admin', ADMIN_TOKEN).expect(200);
    expect(JSON.stringify(queues.body)).toContain('"readOnlyMode":true');
    const before = await jobs();
    const crossSite = await rawPost(readOnly, '/admin/queues/api/queues/webhooks/add', {
      'Content-Type': 'text/plain',
      Origin: EVIL,
      Authorization: basic,
    });
    expect(crossSite.status).toBe(403);
    const sameOrigin = await request(readOnly)
      .post('/admin/queues/api/queues/webhooks/add')
      .auth('admin', ADMIN_TOKEN)
      .set('Origin', readOnly)
      .send({ name: 'x', data: {} })
      .expect(403);
    expect(sameOrigin.body).toEqual({ message: expect.stringContaining('BULL_BOARD_READ_ONLY'), status: 'access_denied' });
    expect(await jobs()).toBe(before);
  });

  it('runs the worker health port on HOST, with the API banner', async () => {
    const port = await freePort();
    const worker = start('worker', { HOST: '127.0.0.1', WORKER_HEALTH_PORT: String(port) });
    await worker.waitForOutput('Delivery worker running', 60_000);
    expect(worker.output()).toContain(`Listening   on 127.0.0.1 only, port ${port} (set HOST=0.0.0.0 to listen on every interface)`);
    expect(worker.output()).toContain(`Health      http://127.0.0.1:${port}/health/live  http://127.0.0.1:${port}/health/ready`);
    expect(worker.output()).toContain(`Metrics     http://127.0.0.1:${port}/metrics  (user admin, password: the admin token)`);
    expect(await probe(`http://127.0.0.1:${port}/health/live`)).toBe(200);
    // Another loopback address of this machine: reachable when the port listened on every interface.
    expect(await probe(`http://127.0.0.2:${port}/health/live`)).toBe('ECONNREFUSED');
  });
});
