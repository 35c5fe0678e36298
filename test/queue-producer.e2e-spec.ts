import { createServer, connect, type Server, type Socket } from 'node:net';
import { ReconcilerService } from '../src/delivery-worker/reconciler.service.js';
import { createAgent, createClient, createEvent, setStatus } from './support/api-fixtures.js';
import { eventually, Receiver, sleep } from './support/receiver.js';
import { admin, createTestApp, suiteResources, type TestApp } from './support/test-app.js';

/** A TCP proxy in front of the shared Redis that the test can cut and restore, for this suite's app only. */
class RedisProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<this> {
    if (this.server?.listening) return this;
    this.server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 6379), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Redis is gone: open connections drop, new ones are refused. */
  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.server!.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe('the queue producer while Redis is unreachable', () => {
  const resources = suiteResources('producer');
  let proxy: RedisProxy;
  let receiver: Receiver;
  let t: TestApp;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    proxy = await new RedisProxy(new URL(resources.redisUrl)).start();
    const viaProxy = new URL(resources.redisUrl);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    // The reconciler runs once at start; the test runs it again by hand when it wants to.
    t = await createTestApp(
      'producer',
      { REDIS_URL: viaProxy.toString(), WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', RECONCILE_INTERVAL_MS: '600000' },
      { withWorker: true },
    );
  });
  afterAll(async () => {
    await proxy.start();
    await t.close();
    await proxy.cut();
    await receiver.stop();
  });

  it('answers status changes at once and keeps nothing in memory for Redis; the reconciler sends them once Redis is back', async () => {
    await createClient(t, 'down');
    const agents: number[] = [];
    for (let n = 0; n < 10; n++) {
      const agentId = await createAgent(t, 'down', 'local', `agent${n}`);
      await createEvent(t, 'down', 'local', agentId, { url: receiver.url(`/agent/${agentId}`), method: 'POST', event_type: 'agent-login' });
      agents.push(agentId);
    }
    await setStatus(t, 'down', 'local', agents[0], 'available').expect(200);
    await receiver.waitFor(1);

    await proxy.cut();
    await eventually(async () => (await t.http().get('/health')).status === 503);
    const responses = await Promise.all(agents.slice(1).map((agentId) => setStatus(t, 'down', 'local', agentId, 'available')));
    expect(responses.map((response) => response.status)).toEqual(Array(9).fill(200));
    const pending = await t.sql<{ id: string }>("SELECT id FROM deliveries WHERE client_id = 'down' AND state = 'pending'");
    expect(pending).toHaveLength(9);

    await proxy.start();
    await eventually(async () => (await t.http().get('/health')).status === 200);
    // Longer than the producer's reconnect back-off: a client that had buffered the jobs would have sent them now.
    await sleep(3000);
    expect(receiver.requests).toHaveLength(1);
    for (const { id } of pending) expect(await t.redis.exists(`${resources.queuePrefix}:webhooks:${id}`)).toBe(0);

    expect(await t.app.get(ReconcilerService).reconcile()).toBe(9);
    const requests = await receiver.waitFor(10);
    expect(new Set(requests.map((request) => request.url))).toEqual(new Set(agents.map((agentId) => `/agent/${agentId}`)));
    for (const request of requests) {
      expect(request.body).toBe(
        `agent_status=available&agent_type=local&event_source=api&agent_id=${request.url.split('/')[2]}&extension_name=agent${agents.indexOf(Number(request.url.split('/')[2]))}`,
      );
    }
    await eventually(async () => {
      const [{ n }] = await t.sql<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE client_id = 'down' AND state = 'succeeded'");
      return Number(n) === 10;
    });
    expect((await t.http().get('/client/down/delivery/?state=pending').set(admin).expect(200)).body.deliveries).toEqual([]);
  });
});
