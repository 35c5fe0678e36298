import type { RedisClient } from '../redis/redis-connections.js';
import { redisScript } from '../redis/redis-script.js';
import type { Lane } from './queue.constants.js';
import type { ShardQueue } from './queue-shards.js';

/** BullMQ's largest job priority (2^21 - 1); a lower number goes first. */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/**
 * Fair shares of the workers between clients, kept in Redis beside each queue's jobs (so every API and worker process
 * shares them and they survive a restart), in three keys:
 *
 * - each client's count of queued deliveries: up by one when a delivery is queued, down when a worker takes it the
 *   first time. A client's first waiting delivery (count 1: at an everyday rate, nearly every delivery) goes to the
 *   queue's first lane, the rest of a backlog to its backlog lane (queue.constants.ts). A worker serves each lane with
 *   slots of its own, so a first delivery never waits for a slot a backlog holds; and a worker process of the first lane
 *   alone (WORKER_LANES=first) never runs a backlog's jobs at all.
 * - the backlog lane's clock: the highest priority a worker has taken there (fair queuing's virtual time).
 * - each client's last priority in the backlog lane. A delivery there gets the priority after the later of its
 *   client's last one and the clock (start-time fair queuing): a client just come gets the clock's next turn, beside
 *   a backlog's next delivery rather than after all of it, so two clients with a backlog take turns, one delivery
 *   each, and a client alone still has every worker (priorities only order the queue).
 *
 * Within one client the priorities never go down, and BullMQ keeps arrival order between equal ones: a client's
 * deliveries leave the queue in the order they came, also while its backlog shrinks and grows again. A delivery that
 * goes back to the queue (its agent's older one still on its way, its host busy, a retry) keeps its priority, at most
 * the clock: it goes before every delivery queued after it was first taken (unless the queue emptied meanwhile and
 * the clock started again).
 *
 * Cost per delivery: one script when it is queued (its count, lane and priority) and one when it is taken, shared by
 * the deliveries taken while the previous one was in flight (delivery.processor.ts).
 *
 * A count can only drift upwards: a delivery counted in and never taken (its job removed with its agent, or added
 * twice by the reconciler). So whenever the queue has nothing waiting, every count there is should be zero: the
 * script that counts a delivery taken also clears the three keys when that was the last job waiting, which starts
 * the clock again (one script per delivery taken, atomic with the other scripts on the queue). Should a backlog never
 * empty for two million turns, priorities stop at BullMQ's largest and the lane is first come, first served until it
 * does.
 */
export function priorityOfTurn(turn: number): number {
  return Math.min(Math.max(Math.trunc(turn), 1), PRIORITY_LIMIT);
}

/** The keys of the fair shares, under the queue's own prefix and hash tag (`{prefix}:webhooks:fair...`), for both lanes. */
export function fairSharesKeys(shard: ShardQueue): { counts: string; clock: string; last: string } {
  return { counts: shard.key('fair'), clock: shard.key('fair:clock'), last: shard.key('fair:last') };
}

/** A delivery's turn: its lane, and its priority there (0 in the first lane, which is first come, first served). */
export interface Turn {
  lane: Lane;
  priority: number;
}

/**
 * Counts deliveries in, one per entry, and gives each its lane: its client's first waiting one (count 1) goes to the
 * first lane, the rest of a backlog to the backlog lane. A delivery already in a lane (its job there, or its lane
 * chosen by another enqueue moments ago: the API's and a reconciler's, or two reconcilers') keeps that lane, so its
 * second add is the no-op a job id makes it (a job of the same id in the other lane would be sent twice). The lane
 * chosen is kept beside the queue for `LANE_HELD_MS`, far longer than from this script to the job's add. In the
 * backlog lane, its priority: one after the later of its client's last priority and the clock. KEYS: the counts, the
 * clock, the last priorities, then per delivery its held lane and its job hash in each lane. ARGV: the lane's
 * lifetime, the largest priority, then each delivery's client.
 */
const TAKE_TURNS = redisScript<[number, Lane][]>(
  'fairTakeTurns',
  undefined,
  `local out = {}
local clock = nil
for i = 1, (#KEYS - 3) / 3 do
  local held, first, backlog = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local client = ARGV[i + 2]
  local count = redis.call('HINCRBY', KEYS[1], client, 1)
  local lane = redis.call('GET', held)
  if not lane then
    if redis.call('EXISTS', first) == 1 then lane = 'first'
    elseif redis.call('EXISTS', backlog) == 1 then lane = 'backlog'
    elseif count <= 1 then lane = 'first'
    else lane = 'backlog' end
    redis.call('SET', held, lane, 'PX', ARGV[1])
  end
  local priority = 0
  if lane == 'backlog' then
    clock = clock or tonumber(redis.call('GET', KEYS[2]) or '0')
    priority = math.min(math.max(tonumber(redis.call('HGET', KEYS[3], client) or '0'), clock) + 1, tonumber(ARGV[2]))
    redis.call('HSET', KEYS[3], client, priority)
  end
  out[i] = {priority, lane}
end
return out`,
);
const LANE_HELD_MS = 10_000;

/** One round trip (the script above), for deliveries of one shard's clients: each one's turn, in order. */
export async function takeTurns(
  redis: RedisClient,
  shard: ShardQueue,
  entries: { deliveryId: string; clientId: string }[],
): Promise<Turn[]> {
  const keys = entries.flatMap(({ deliveryId }) => [
    shard.key(`lane:${deliveryId}`),
    shard.first.toKey(deliveryId),
    shard.backlog.toKey(deliveryId),
  ]);
  const fair = fairSharesKeys(shard);
  const turns = await TAKE_TURNS(
    redis,
    keys.length + 3,
    fair.counts,
    fair.clock,
    fair.last,
    ...keys,
    LANE_HELD_MS,
    PRIORITY_LIMIT,
    ...entries.map((entry) => entry.clientId),
  );
  return turns.map(([priority, lane]) => ({ lane, priority: lane === 'first' ? 0 : priorityOfTurn(Number(priority)) }));
}

/** A delivery a worker took from the queue the first time: its client, and its priority (0 in the first lane). */
export interface TurnTaken {
  clientId: string;
  priority: number;
}

/**
 * Workers took deliveries of these clients: each one's count goes down by as many (never below zero: a count lost with
 * Redis's data), and a client with none left waiting loses its last priority; the clock moves up to the largest
 * priority taken. If no job waits any more in either lane, the three keys are cleared, whatever drifted. KEYS: the
 * counts, the clock, the last priorities, the first lane's wait list, the backlog lane's prioritized set and wait
 * list. ARGV: the largest priority taken, then pairs of client and deliveries taken.
 */
const TURNS_TAKEN = redisScript<unknown>(
  'fairTurnsTaken',
  6,
  `for i = 2, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
  end
end
if redis.call('LLEN', KEYS[4]) == 0 and redis.call('ZCARD', KEYS[5]) == 0 and redis.call('LLEN', KEYS[6]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
elseif tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[1])
end`,
);

/**
 * One round trip (the script above) on the connection of the shard's queues, for the deliveries taken (one entry per
 * delivery, a client as often as it had deliveries taken).
 */
export async function turnsTaken(redis: RedisClient, shard: ShardQueue, taken: TurnTaken[]): Promise<void> {
  const perClient = new Map<string, number>();
  let highest = 0;
  for (const { clientId, priority } of taken) {
    perClient.set(clientId, (perClient.get(clientId) ?? 0) + 1);
    highest = Math.max(highest, priority);
  }
  const fair = fairSharesKeys(shard);
  await TURNS_TAKEN(
    redis,
    fair.counts,
    fair.clock,
    fair.last,
    shard.first.toKey('wait'),
    shard.backlog.toKey('prioritized'),
    shard.backlog.toKey('wait'),
    highest,
    ...[...perClient].flat(),
  );
}
