import type { Redis } from 'ioredis';
import { eventually, type Receiver } from './receiver.js';
import { admin, type TestApp } from './test-app.js';

/**
 * The scenarios of fair shares between clients and of per-agent order, run against an app in the test's process
 * (test/fairness.e2e-spec.ts, test/ordering.e2e-spec.ts) or against API and worker processes
 * (test/chaos/fair-order.chaos-spec.ts): they need only the API and SQL on the service's database.
 */
export type Service = Pick<TestApp, 'http' | 'sql'>;

const pendingOf = async (service: Service, where: string, params: unknown[]) =>
  Number((await service.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending' AND ${where}`, params))[0].n);

async function createClient(service: Service, id: string): Promise<void> {
  await service
    .http()
    .post('/client/')
    .set(admin)
    .send({ id, name: `Client ${id}` })
    .expect(201);
}

async function createAgent(service: Service, clientId: string, extension: string): Promise<number> {
  const created = await service.http().post(`/client/${clientId}/agent/local/`).set(admin).send({ extension_name: extension }).expect(201);
  return created.body.id as number;
}

async function createEvent(
  service: Service,
  clientId: string,
  agentId: number,
  event: { url: string; event_type: 'agent-login' | 'agent-logout'; method: 'GET' | 'POST' },
): Promise<void> {
  await service.http().post(`/client/${clientId}/agent/local/${agentId}/event/`).set(admin).send(event).expect(201);
}

const setStatus = (service: Service, clientId: string, agentId: number, status: 'available' | 'logged_out') =>
  service.http().put(`/client/${clientId}/agent/local/${agentId}`).set(admin).send({ status }).expect(200);

/** How many times each webhook-id reached a receiver. */
function receipts(receiver: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of receiver.requests) {
    const id = String(request.headers['webhook-id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** The deliveries that did not reach the receiver exactly once, and the webhook-ids it got that are not among them. */
function notExactlyOnce(ids: string[], receiver: Receiver): { id: string; received: number }[] {
  const counts = receipts(receiver);
  const wrong = ids.filter((id) => counts.get(id) !== 1).map((id) => ({ id, received: counts.get(id) ?? 0 }));
  const known = new Set(ids);
  const strangers = [...counts].filter(([id]) => !known.has(id)).map(([id, received]) => ({ id, received }));
  return [...wrong, ...strangers];
}

export interface NoisyNeighbourOptions {
  /** Names the two clients (unique per run of the scenario on one database). */
  prefix: string;
  /** Client A: this many agents, each with this many login webhooks (one URL each) on receiver A. */
  agents: number;
  eventsPerAgent: number;
  /** How long receiver A takes to answer each request: keeps A's backlog draining while B changes. */
  aReplyDelayMs: number;
  /** Client B: its one agent changes status this many times, each after the previous change's webhook arrived. */
  changes: number;
  /** Receiver A and receiver B, on two host names (the workers isolate receivers per host name). */
  a: Receiver;
  b: Receiver;
}

export interface NoisyNeighbourRun {
  /** A's deliveries, queued before B's first change. */
  aTotal: number;
  /** Per change of B: how many of A's webhooks receiver A got between B's PUT answering and B's webhook arriving. */
  windows: number[];
  /** How many of A's webhooks receiver A had got when B's last webhook arrived. */
  aReceivedAtLastB: number;
  /** A's deliveries still pending when B's last change had been delivered (read from MySQL). */
  aPendingAfterB: number;
  /** Once all settled: deliveries in a state other than succeeded, and those not received exactly once. */
  unsettled: { id: string; state: string }[];
  aNotExactlyOnce: { id: string; received: number }[];
  bNotExactlyOnce: { id: string; received: number }[];
}

/**
 * The noisy neighbour: client A's agents have a backlog of `agents × eventsPerAgent` deliveries (their agent events
 * are inserted in MySQL, for speed; the deliveries come from one login of each agent through the API, so they are
 * created and queued by the real path with A's client id). While it drains, client B's one agent changes status
 * `changes` times, each change once the previous one was delivered, with its webhooks on receiver B.
 */
export async function noisyNeighbour(service: Service, options: NoisyNeighbourOptions): Promise<NoisyNeighbourRun> {
  const clientA = `${options.prefix}-noisy`;
  const aTotal = options.agents * options.eventsPerAgent;

  await createClient(service, clientA);
  await service.http().put(`/client/${clientA}/limit/`).set(admin).send({ agent_event_limit: aTotal }).expect(200);
  const aAgents: number[] = [];
  for (let index = 0; index < options.agents; index++) aAgents.push(await createAgent(service, clientA, `noisy-${index}@ringme.ru`));
  const rows = aAgents.flatMap((agentId) =>
    Array.from({ length: options.eventsPerAgent }, (_, index) => [
      clientA,
      agentId,
      'agent-login',
      'POST',
      options.a.url(`/a/${agentId}/${index}`),
    ]),
  );
  await service.sql('INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES ?', [rows]);
  await service.sql('UPDATE clients SET agent_event_count = ? WHERE id = ?', [aTotal, clientA]);

  // A's backlog: every agent logs in at once, one delivery per agent event, all queued when the answers came.
  return quietBesideBacklog(service, {
    ...options,
    clientA,
    aTotal,
    startBacklog: async () => {
      await Promise.all(aAgents.map((agentId) => setStatus(service, clientA, agentId, 'available')));
    },
  });
}

/**
 * Client A's backlog of `aTotal` deliveries (made and queued by `startBacklog`) drains to receiver A; meanwhile client
 * B's one agent changes status `changes` times, each change once the previous one was delivered, with its login and
 * logout webhooks on receiver B. Measures what B waited for, then lets everything settle.
 */
export async function quietBesideBacklog(
  service: Service,
  options: Omit<NoisyNeighbourOptions, 'agents' | 'eventsPerAgent'> & {
    clientA: string;
    aTotal: number;
    startBacklog: () => Promise<void>;
  },
): Promise<NoisyNeighbourRun> {
  const { a, b, clientA, aTotal } = options;
  const clientB = `${options.prefix}-quiet`;
  await createClient(service, clientB);
  const bAgent = await createAgent(service, clientB, 'quiet@ringme.ru');
  // Login and logout on two URLs: a change never waits for the one before it (per-URL order), only for the queue.
  await createEvent(service, clientB, bAgent, { url: b.url('/b/in'), event_type: 'agent-login', method: 'GET' });
  await createEvent(service, clientB, bAgent, { url: b.url('/b/out'), event_type: 'agent-logout', method: 'POST' });

  a.answer(() => ({ status: 200, delayMs: options.aReplyDelayMs }));
  // When each of B's webhooks arrives: how many of A's had arrived by then.
  const aReceivedAtB: number[] = [];
  b.answer(() => {
    aReceivedAtB.push(a.requests.length);
    return { status: 200 };
  });

  await options.startBacklog();
  const queued = Number((await service.sql<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries WHERE client_id = ?', [clientA]))[0].n);
  if (queued !== aTotal) throw new Error(`client A has ${queued} deliveries, not ${aTotal}`);

  const windows: number[] = [];
  for (let change = 0; change < options.changes; change++) {
    const before = b.requests.length;
    await setStatus(service, clientB, bAgent, change % 2 === 0 ? 'available' : 'logged_out');
    const aAtAnswer = a.requests.length;
    await b.waitFor(before + 1, 120_000);
    windows.push(Math.max(0, aReceivedAtB[before] - aAtAnswer));
    // Recorded before the next change, so the next change's delivery has no older one of B pending to wait for.
    await eventually(async () => (await pendingOf(service, 'client_id = ?', [clientB])) === 0, 30_000);
  }
  const aReceivedAtLastB = aReceivedAtB[aReceivedAtB.length - 1];
  const aPendingAfterB = await pendingOf(service, 'client_id = ?', [clientA]);

  await eventually(async () => (await pendingOf(service, 'client_id IN (?, ?)', [clientA, clientB])) === 0, 180_000);
  const settled = await service.sql<{ id: string; client_id: string; state: string }>(
    'SELECT id, client_id, state FROM deliveries WHERE client_id IN (?, ?)',
    [clientA, clientB],
  );
  return {
    aTotal,
    windows,
    aReceivedAtLastB,
    aPendingAfterB,
    unsettled: settled.filter((row) => row.state !== 'succeeded').map(({ id, state }) => ({ id, state })),
    aNotExactlyOnce: notExactlyOnce(
      settled.filter((row) => row.client_id === clientA).map((row) => row.id),
      a,
    ),
    bNotExactlyOnce: notExactlyOnce(
      settled.filter((row) => row.client_id === clientB).map((row) => row.id),
      b,
    ),
  };
}

/**
 * What a noisy-neighbour run must show: no change of B waited for `bound` or more of A's webhooks, A's backlog was still
 * draining when B's last change arrived (else the run proves nothing), and everything of both arrived exactly once.
 */
export function expectFairAndExact(run: NoisyNeighbourRun, bound: number): void {
  expect(run.windows.filter((count) => count >= bound)).toEqual([]);
  expect(run.aReceivedAtLastB).toBeLessThan(run.aTotal);
  expect(run.aPendingAfterB).toBeGreaterThan(0);
  expect(run.unsettled).toEqual([]);
  expect(run.aNotExactlyOnce).toEqual([]);
  expect(run.bNotExactlyOnce).toEqual([]);
}

/** One request as the receiver answered it. */
export interface Answered {
  sequence: number;
  id: string;
  status: number;
}

export interface OrderedRun {
  /** Every request of the agent's webhooks, in the order they reached the receiver, with the answer each got. */
  log: Answered[];
  /** The agent's deliveries once none is pending, by sequence. */
  deliveries: { sequence: number; state: string }[];
}

/**
 * One agent with its login and its logout webhook on one URL changes status `changes` times in a row, as fast as
 * the API answers. The receiver answers 503 to the first attempt of every `rejectEvery`-th change's webhook (so
 * that one is retried on the schedule while newer ones are waiting), 200 to everything else.
 */
export async function orderedThroughRetries(
  service: Service,
  receiver: Receiver,
  options: {
    clientId: string;
    changes: number;
    rejectEvery: number;
    /** How long the deliveries may take to be through, in all. */
    drainMs: number;
    /** The delivery queue, to say in a failure where the deliveries' jobs stood. */
    queue?: { redis: Redis; queuePrefix: string };
  },
): Promise<OrderedRun> {
  const { clientId } = options;
  const log: Answered[] = [];
  const seen = new Set<string>();
  receiver.answer((request) => {
    const sequence = Number(request.headers['agent-event-sequence']);
    const id = String(request.headers['webhook-id']);
    const status = !seen.has(id) && sequence % options.rejectEvery === 0 ? 503 : 200;
    seen.add(id);
    log.push({ sequence, id, status });
    return { status };
  });
  await createClient(service, clientId);
  const agentId = await createAgent(service, clientId, 'ordered@ringme.ru');
  const url = receiver.url('/ordered');
  await createEvent(service, clientId, agentId, { url, event_type: 'agent-login', method: 'GET' });
  await createEvent(service, clientId, agentId, { url, event_type: 'agent-logout', method: 'POST' });

  for (let change = 0; change < options.changes; change++) {
    await setStatus(service, clientId, agentId, change % 2 === 0 ? 'available' : 'logged_out');
  }
  await eventually(async () => (await pendingOf(service, 'agent_id = ?', [agentId])) === 0, options.drainMs).catch(async (error: Error) => {
    throw new Error(`${error.message}: ${await stalled(service, agentId, log, options.queue)}`);
  });
  const deliveries = await service.sql<{ sequence: number; state: string }>(
    `SELECT s.sequence, d.state FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
      WHERE d.agent_id = ? ORDER BY s.sequence`,
    [agentId],
  );
  return { log, deliveries: deliveries.map((row) => ({ sequence: Number(row.sequence), state: row.state })) };
}

/** Where an agent's pending deliveries stand: the oldest one, which every newer one waits for, and their jobs. */
async function stalled(service: Service, agentId: number, log: Answered[], queue?: { redis: Redis; queuePrefix: string }): Promise<string> {
  const pending = await service.sql<{ id: string; sequence: number; attempts: number; held_reason: string | null }>(
    `SELECT d.id, s.sequence, d.attempts, d.held_reason FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
      WHERE d.agent_id = ? AND d.state = 'pending' ORDER BY s.sequence`,
    [agentId],
  );
  if (pending.length === 0) return 'nothing pending any more';
  const [head] = pending;
  let text =
    `${pending.length} deliveries pending after ${log.length} requests; the oldest, of change ${head.sequence}, ` +
    `has ${head.attempts} attempts (held: ${head.held_reason ?? 'no'})`;
  const named = /delivery (msg_\w+)/.exec(head.held_reason ?? '')?.[1];
  if (named) {
    const [row] = await service.sql<{ state: string; sequence: number; attempts: number; url: string; agent_id: number }>(
      `SELECT d.state, s.sequence, d.attempts, d.url, d.agent_id FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id WHERE d.id = ?`,
      [named],
    );
    text += `; the delivery it names: ${JSON.stringify(row)}`;
  }
  if (queue) {
    // A job is in the queue's first lane (`webhooks`: its client's first waiting delivery) or its backlog lane.
    const lane = async (id: string) =>
      (await queue.redis.exists(`${queue.queuePrefix}:webhooks-backlog:${id}`)) === 1 ? 'webhooks-backlog' : 'webhooks';
    const pipeline = queue.redis.pipeline();
    for (const row of pending) pipeline.hmget(`${queue.queuePrefix}:${await lane(row.id)}:${row.id}`, 'priority', 'ats');
    const jobs = ((await pipeline.exec()) ?? []).map(([, fields]) => (fields as (string | null)[]).map(Number));
    const [headPriority, headRuns] = jobs[0];
    const ahead = jobs.slice(1).filter(([priority]) => priority < headPriority);
    const runs = jobs.slice(1).reduce((sum, [, taken]) => sum + taken, 0);
    const headLane = await lane(head.id);
    const key = (name: string) => `${queue.queuePrefix}:${headLane}:${name}`;
    const [delayed, prioritized, active, failed, waiting] = await Promise.all([
      queue.redis.zscore(key('delayed'), head.id),
      queue.redis.zscore(key('prioritized'), head.id),
      queue.redis.lpos(key('active'), head.id),
      queue.redis.zscore(key('failed'), head.id),
      queue.redis.lpos(key('wait'), head.id),
    ]);
    const where = [
      delayed !== null && 'delayed',
      prioritized !== null && 'prioritized',
      active !== null && 'active',
      failed !== null && 'failed',
      waiting !== null && 'wait',
    ].filter(Boolean);
    const reason = await queue.redis.hget(key(head.id), 'failedReason');
    if (delayed !== null) text += `; due in ${Math.round(Number(delayed) / 0x1000 - Date.now())} ms`;
    text += `; its job (${headLane}) is ${where.join(', ') || 'in no list'}${reason ? ` (failed: ${reason})` : ''}`;
    text +=
      `; its job has priority ${headPriority} and was taken ${headRuns} times; ${ahead.length} of the ${jobs.length - 1} newer ` +
      `jobs waiting for it have a lower priority number (taken first), the newer jobs were taken ${Math.round(runs / Math.max(1, jobs.length - 1))} times each on average`;
  }
  return text;
}

/**
 * The requests that reached the receiver after a request of the same or a newer change had been accepted (2xx).
 * `duplicates`: whether a second request of the newest accepted change counts (false where a worker that lost its
 * job's lock may send it twice: that is at-least-once, not an order broken).
 */
export function afterNewerAccepted(log: Answered[], duplicates = true): Answered[] {
  let newest = 0;
  const late: Answered[] = [];
  for (const entry of log) {
    if (entry.sequence < newest || (duplicates && entry.sequence === newest)) late.push(entry);
    if (entry.status < 300) newest = Math.max(newest, entry.sequence);
  }
  return late;
}

/** How many accepted requests have a sequence no higher (`duplicates` false: lower) than the accepted one before them. */
export function inversions(accepted: number[], duplicates = true): number {
  return accepted.filter(
    (sequence, index) => index > 0 && (sequence < accepted[index - 1] || (duplicates && sequence === accepted[index - 1])),
  ).length;
}

/**
 * Through which lane of the queue each of a client's deliveries went (its job hash stays under the lane's key after it
 * completed): `first` (the client's first waiting delivery), `backlog`, or `none`.
 */
export async function lanesOf(
  service: Service,
  queue: { redis: Redis; queuePrefix: string },
  clientId: string,
): Promise<{ first: number; backlog: number; none: number }> {
  const rows = await service.sql<{ id: string }>('SELECT id FROM deliveries WHERE client_id = ?', [clientId]);
  const pipeline = queue.redis.pipeline();
  for (const { id } of rows) {
    pipeline.exists(`${queue.queuePrefix}:webhooks:${id}`);
    pipeline.exists(`${queue.queuePrefix}:webhooks-backlog:${id}`);
  }
  const found = ((await pipeline.exec()) ?? []).map(([, exists]) => exists === 1);
  const lanes = { first: 0, backlog: 0, none: 0 };
  rows.forEach((_, index) => {
    if (found[2 * index]) lanes.first++;
    else if (found[2 * index + 1]) lanes.backlog++;
    else lanes.none++;
  });
  return lanes;
}
