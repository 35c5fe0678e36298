import type { Queue } from 'bullmq';
import { DeliveryQueueService } from '../src/delivery-queue/delivery-queue.service.js';
import { QueueShards } from '../src/delivery-queue/queue-shards.js';
import { agentWithEvents } from './support/delivery-fixtures.js';
import { eventually, Receiver } from './support/receiver.js';
import { admin, createTestApp, type TestApp } from './support/test-app.js';

/** What Bull Board shows of a delivery: a job named after whose it is, and a one-line reason when an attempt failed. */
describe('delivery jobs as Bull Board shows them', () => {
  let t: TestApp;
  let receiver: Receiver;
  let queue: Queue;

  beforeAll(async () => {
    t = await createTestApp(
      'queue_jobs',
      { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_SCHEDULE: '0,30s', RECONCILE_INTERVAL_MS: '300' },
      { withWorker: true },
    );
    [queue] = t.app.get(QueueShards).queues;
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  const deliveryOf = async (clientId: string) =>
    eventually(async () => (await t.sql<{ id: string }>('SELECT id FROM deliveries WHERE client_id = ?', [clientId]))[0]);

  it('names a delivery job after the client, the agent, the event type and the target host', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'named@ringme.ru' }, [
      { url: receiver.url('/hook?x=1'), event_type: 'agent-login', method: 'GET' },
    ]);
    await agent.setStatus('available');
    const { id } = await deliveryOf(agent.clientId);
    const job = await eventually(async () => {
      const found = await queue.getJob(id);
      return found && (await found.getState()) === 'completed' && found;
    });
    expect(job.name).toBe(`client ${agent.clientId} · local agent ${agent.agentId} · agent-login · 127.0.0.1:${receiver.port}`);
  });

  it('keeps a failed attempt’s reason to one line, without a stack trace', async () => {
    const agent = await agentWithEvents(t, { agent_number: '+74950001122' }, [
      { url: receiver.url('/down'), event_type: 'agent-login', method: 'POST' },
    ]);
    receiver.reply({ status: 500, body: 'database down' });
    await agent.setStatus('available');
    const { id } = await deliveryOf(agent.clientId);
    const job = await eventually(async () => {
      const found = await queue.getJob(id);
      return found?.failedReason ? found : undefined;
    });
    expect(job.name).toBe(`client ${agent.clientId} · remote agent ${agent.agentId} · agent-login · 127.0.0.1:${receiver.port}`);
    expect(job.failedReason).toMatch(/^HTTP 500; next attempt in \d+ s$/);
    expect(job.stacktrace).toEqual([]);
  });

  it('gives the same name to a job the reconciler adds again after Redis lost it, and to a manual retry', async () => {
    const agent = await agentWithEvents(t, { extension_name: 'lost@ringme.ru' }, [
      { url: receiver.url('/lost'), event_type: 'agent-logout', method: 'GET' },
    ]);
    await agent.setStatus('available');
    receiver.reply({ status: 503, body: 'busy', headers: { 'Retry-After': '1' } });
    await agent.setStatus('logged_out');
    const { id } = await deliveryOf(agent.clientId);
    const name = `client ${agent.clientId} · local agent ${agent.agentId} · agent-logout · 127.0.0.1:${receiver.port}`;
    await eventually(async () => (await queue.getJob(id))?.failedReason);
    await t.loseRedisData();
    const requeued = await eventually(async () => queue.getJob(id));
    expect(requeued.name).toBe(name);

    await eventually(async () => (await queue.getJob(id).then((job) => job?.getState())) === 'completed');
    await t.http().post(`/client/${agent.clientId}/delivery/${id}/retry`).set(admin).expect(202);
    const retried = await eventually(async () => queue.getJob(id));
    expect(retried.name).toBe(name);
  });

  it('keeps one job for a delivery enqueued by several at once, or again later: never one in each lane', async () => {
    const deliveries = t.app.get(DeliveryQueueService);
    const prefix = t.config.queuePrefix;
    const holding = async (id: string) => {
      const [first, backlog] = await Promise.all([
        t.redis.exists(`${prefix}:webhooks:${id}`),
        t.redis.exists(`${prefix}:webhooks-backlog:${id}`),
      ]);
      return [first === 1 && 'webhooks', backlog === 1 && 'webhooks-backlog'].filter(Boolean);
    };
    // The API's enqueue and two reconcilers' at once: the first counts the client's first delivery, the others its
    // second and third, which alone would put them in the backlog lane beside the first's job.
    const job = { deliveryId: `msg_twice${process.pid}`, clientId: 'twice', host: '127.0.0.1', name: 'twice' };
    await Promise.all([deliveries.enqueue([job]), deliveries.enqueue([job]), deliveries.enqueue([job])]);
    expect(await holding(job.deliveryId)).toEqual(['webhooks']);
    // Long after (the lane noted beside the queue gone): its job still says where it is.
    await t.redis.del(`${prefix}:webhooks:lane:${job.deliveryId}`);
    await deliveries.enqueue([job]);
    expect(await holding(job.deliveryId)).toEqual(['webhooks']);
    // A backlog's delivery, enqueued again, stays in the backlog lane.
    const busy = [1, 2, 3].map((n) => ({ deliveryId: `msg_busy${process.pid}x${n}`, clientId: 'busy', host: '127.0.0.1', name: 'busy' }));
    await deliveries.enqueue(busy);
    await Promise.all([deliveries.enqueue([busy[2]]), deliveries.enqueue([busy[2]])]);
    expect(await holding(busy[2].deliveryId)).toEqual(['webhooks-backlog']);
  });

  it('enqueues again a delivery whose job Redis lost mid-attempt, when the worker left a piece of its hash behind', async () => {
    const deliveries = t.app.get(DeliveryQueueService);
    const key = `${t.config.queuePrefix}:webhooks:msg_remnant${process.pid}`;
    const job = { deliveryId: `msg_remnant${process.pid}`, clientId: 'remnant', host: '127.0.0.1', name: 'remnant' };
    // What a worker's mark leaves when the job was gone: a hash without the `timestamp` every added job has.
    await t.redis.hset(key, 'processedOn', Date.now());
    expect(await deliveries.withoutLiveJob([{ id: job.deliveryId, clientId: job.clientId }])).toEqual([job.deliveryId]);
    await deliveries.enqueue([job]);
    expect(await t.redis.hget(key, 'name')).toBe('remnant');
  });
});
