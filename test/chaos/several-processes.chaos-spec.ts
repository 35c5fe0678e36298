import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import request from 'supertest';
import { agentsWithWebhooks, allSucceeded as allSucceededIn, burst as burstOn, duplicates } from '../support/bursts.js';
import { Receiver } from '../support/receiver.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from '../support/processes.js';
import { ADMIN_TOKEN, deleteQueueKeys, pbx, suiteResources } from '../support/test-app.js';

/** One metric's value from a Prometheus text page. */
function metric(page: string, series: string): number {
  const line = page.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Two API processes and two worker processes on one database and one queue prefix, as a scaled-out deployment runs. */
describe('several API and worker processes at once', () => {
  const resources = suiteResources('several');
  const running: ServiceProcess[] = [];
  let env: Record<string, string>;
  let apis: string[];
  let workers: { process: ServiceProcess; base: string }[];
  let pool: mysql.Pool;
  let receiver: Receiver;
  let clients = 0;

  async function startWorker(): Promise<{ process: ServiceProcess; base: string }> {
    const port = await freePort();
    const service = runService('worker', { ...env, WORKER_HEALTH_PORT: String(port) });
    running.push(service);
    await service.waitForOutput('Delivery worker running', 60_000);
    return { process: service, base: `http://127.0.0.1:${port}` };
  }

  beforeAll(async () => {
    env = await prepareCompiledService(resources, {
      WEBHOOK_RETRY_SCHEDULE: '0,300ms,600ms,1s,2s,3s',
      DEFAULT_AGENT_EVENT_LIMIT: '1000',
      WORKER_LOCK_MS: '5000',
      // Both reconcilers look often, over every pending delivery, while the workers are busy with them.
      RECONCILE_INTERVAL_MS: '200',
    });
    apis = [];
    for (let index = 0; index < 2; index++) {
      const port = await freePort();
      const api = runService('main', { ...env, PORT: String(port) });
      running.push(api);
      await api.waitForOutput('Delivery worker:', 60_000);
      apis.push(`http://127.0.0.1:${port}`);
    }
    workers = [await startWorker(), await startWorker()];
    pool = mysql.createPool({ uri: resources.databaseUrl, connectionLimit: 4 });
  }, 240_000);

  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await pool?.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool?.end();
    const redis = new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(() => receiver.stop());

  /** Agents of a new client, each with a webhook on login and on logout; created through both APIs in turn. */
  async function agents(count: number): Promise<{ clientId: string; extensions: string[]; ids: number[] }> {
    const clientId = `s${++clients}`;
    return { clientId, ...(await agentsWithWebhooks(apis, clientId, count, receiver.url())) };
  }

  const burst = (clientId: string, ids: number[], changes: number) => burstOn(apis, clientId, ids, changes);

  const allSucceeded = (clientId: string, count: number) => allSucceededIn(pool, clientId, count);
  const succeededOn = async (base: string) =>
    metric(
      (await request(base).get('/metrics').auth('admin', ADMIN_TOKEN).expect(200)).text,
      'agent_events_delivery_attempts_total{outcome="succeeded"}',
    );

  it('makes exactly one status change of 100 concurrent identical phone commands spread over both APIs, round after round', async () => {
    const { clientId, extensions, ids } = await agents(1);
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      const command = round % 2 === 0 ? 'login' : 'logout';
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          request(apis[index % 2])
            .post('/pbx/agent-command')
            .set(pbx)
            .send({ client_id: clientId, extension_name: extensions[0], command }),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(200));
      expect(answers.filter((answer) => answer.body.changed === true)).toHaveLength(1);
      expect(new Set(answers.map((answer) => answer.body.agent_status))).toEqual(
        new Set([command === 'login' ? 'available' : 'logged_out']),
      );
    }
    const [changes] = (await pool.query('SELECT sequence FROM status_changes WHERE agent_id = ? ORDER BY sequence', [ids[0]])) as [
      { sequence: number }[],
      unknown,
    ];
    expect(changes.map((change) => change.sequence)).toEqual(Array.from({ length: rounds }, (_, index) => index + 1));
    await allSucceeded(clientId, rounds);
    const sequences = (await receiver.waitFor(rounds)).map((seen) => Number(seen.headers['agent-event-sequence']));
    expect(sequences.sort((a, b) => a - b)).toEqual(Array.from({ length: rounds }, (_, index) => index + 1));
  }, 180_000);

  it('shares a burst of deliveries between both workers, and two reconcilers at once send none twice', async () => {
    const before = await Promise.all(workers.map((worker) => succeededOn(worker.base)));
    receiver.reply(...Array.from({ length: 200 }, () => ({ status: 200, delayMs: 20 })));
    const { clientId, ids } = await agents(20);
    await burst(clientId, ids, 10);
    const rows = await allSucceeded(clientId, 200);
    const after = await Promise.all(workers.map((worker) => succeededOn(worker.base)));
    const shares = after.map((count, index) => count - before[index]);
    expect(shares[0]).toBeGreaterThan(0);
    expect(shares[1]).toBeGreaterThan(0);
    const requests = receiver.requests.filter((seen) => rows.some((row) => row.id === seen.headers['webhook-id']));
    expect(new Set(requests.map((seen) => seen.headers['webhook-id'])).size).toBe(200);
    expect(shares[0] + shares[1]).toBe(requests.length);
    // At least once, explained: a reconciler never re-sends a delivery that was sent (it leaves active jobs alone,
    // and a re-added job finds the row succeeded and sends nothing). A webhook can still come twice when a worker
    // too busy to renew its job's lock (WORKER_LOCK_MS) loses the job to the other worker: then both attempts are
    // recorded, and they overlap in time.
    const twice = duplicates(requests);
    for (const [id, all] of twice) {
      const [attempts] = (await pool.query(
        'SELECT started_at, duration_ms FROM delivery_attempts WHERE delivery_id = ? ORDER BY started_at',
        [id],
      )) as [{ started_at: Date; duration_ms: number }[], unknown];
      expect(attempts).toHaveLength(all.length);
      expect(attempts[1].started_at.getTime()).toBeLessThanOrEqual(attempts[0].started_at.getTime() + attempts[0].duration_ms + 5);
    }
    console.info(`burst of 200 deliveries: worker shares ${shares.join(' + ')}, ${twice.size} sent twice (overlapping attempts)`);
  }, 180_000);

  it('loses nothing when one worker is killed with SIGKILL mid-burst; only requests in flight at the kill arrive twice', async () => {
    // Slow answers keep many requests in flight in both workers when one of them dies.
    receiver.reply(...Array.from({ length: 400 }, () => ({ status: 200, delayMs: 300 })));
    const { clientId, ids } = await agents(20);
    await burst(clientId, ids, 10);
    await receiver.waitFor(40, 60_000);
    const doomed = workers[0];
    doomed.process.child.kill('SIGKILL');
    await doomed.process.exited;
    // The moment it was gone: kill() returns before the signal has taken the process, and a request it had written
    // just before can be read by the receiver a moment after kill() returned.
    const killedAt = Date.now();

    const rows = await allSucceeded(clientId, 200);
    const requests = receiver.requests.filter((seen) => rows.some((row) => row.id === seen.headers['webhook-id']));
    expect(new Set(requests.map((seen) => seen.headers['webhook-id'])).size).toBe(200);
    // At least once, explained: a webhook comes twice only when its first request had reached the receiver before
    // the kill (the killed worker was waiting for the answer or about to record it), and the job went to the other
    // worker once its lock expired.
    const twice = duplicates(requests);
    for (const [, all] of twice) {
      expect(all).toHaveLength(2);
      expect(all[0].at).toBeLessThanOrEqual(killedAt);
    }
    console.info(`SIGKILL mid-burst: 200 deliveries, ${twice.size} sent twice, each in flight at the kill`);
    workers[0] = await startWorker();
  }, 240_000);
});
