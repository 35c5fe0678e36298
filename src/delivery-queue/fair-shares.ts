import type { RedisClient } from '../redis/redis-connections.js';
import { redisScript } from '../redis/redis-script.js';
import type { Lane } from './queue.constants.js';
import type { ShardQueue } from './queue-shards.js';

/** BullMQ's largest job priority (2^21 - 1); a lower number goes first. */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/**
 * Fair shares of the workers between clients. Each client's count of queued deliveries is kept in Redis (one hash
 * per queue, beside its jobs, so every API and worker process shares it and it survives a restart): a delivery is
 * queued with priority = its client's count after it was added, and the count goes down when a worker takes a
 * delivery the first time. So the first delivery each client has waiting goes before the second of any client, the
 * second before the third, and so on: a client with a backlog of thousands does not hold up a client with one
 * delivery, and a client alone still has every worker (priorities only order the queue). Within one client,
 * deliveries keep their order of arrival while its backlog only grows, and the per-agent order is the worker's
 * (ordering.ts). Cost per delivery: one script when it is queued (its count and lane) and one when it is taken,
 * shared by the deliveries taken while the previous one was in flight (delivery.processor.ts).
 *
 * A client's first waiting delivery (count 1: at an everyday rate, nearly every delivery) goes to the queue's first
 * lane, the rest of a backlog to its backlog lane, by that priority (queue.constants.ts). A worker serves each lane
 * with slots of its own, so a first delivery never waits for a slot a backlog holds; and a worker process of the
 * first lane alone (WORKER_LANES=first) never runs a backlog's jobs at all, so the webhook of a client with little
 * to send never shares an event loop with another client's backlog. The lane costs nothing more: the count decides
 * it.
 *
 * A count can only drift upwards: a delivery counted in and never taken (its job removed with its agent, or added
 * twice by the reconciler). So whenever the queue has nothing waiting, every count there is should be zero: the
 * script that counts a delivery taken also clears every count when that was the last job waiting (one script per
 * delivery taken, atomic with the other scripts on the queue).
 */
export function priorityOfTurn(turn: number): number {
  return Math.min(Math.max(Math.trunc(turn), 1), PRIORITY_LIMIT);
}

/** The hash of counts, under the queue's own prefix and hash tag (`{prefix}:webhooks:fair`), for both lanes. */
export function fairSharesKey(shard: ShardQueue): string {
  return shard.key('fair');
}

/** A delivery's turn: its lane, and its priority there (its client's count of queued deliveries after it). */
export interface Turn {
  lane: Lane;
  priority: number;
}

/**
 * Counts deliveries in, one per entry, and gives each its lane: its client's first waiting one (count 1) goes to the
 * first lane, the rest of a backlog to the backlog lane. A delivery already in a lane (its job there, or its lane
 * chosen by another enqueue moments ago: the API's and a reconciler's, or two reconcilers') keeps that lane, so its
 * second add is the no-op a job id makes it (a job of the same id in the other lane would be sent twice). The lane
 * chosen is kept beside the queue for `LANE_HELD_MS`, far longer than from this script to the job's add. KEYS: the
 * counts, then per delivery its held lane and its job hash in each lane. ARGV: the lane's lifetime, then each
 * delivery's client.
 */
const TAKE_TURNS = redisScript<[number, Lane][]>(
  'fairTakeTurns',
  undefined,
  `local out = {}
for i = 1, (#KEYS - 1) / 3 do
  local held, first, backlog = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local count = redis.call('HINCRBY', KEYS[1], ARGV[i + 1], 1)
  local lane = redis.call('GET', held)
  if not lane then
    if redis.call('EXISTS', first) == 1 then lane = 'first'
    elseif redis.call('EXISTS', backlog) == 1 then lane = 'backlog'
    elseif count <= 1 then lane = 'first'
    else lane = 'backlog' end
    redis.call('SET', held, lane, 'PX', ARGV[1])
  end
  out[i] = {count, lane}
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
  const turns = await TAKE_TURNS(
    redis,
    keys.length + 1,
    fairSharesKey(shard),
    ...keys,
    LANE_HELD_MS,
    ...entries.map((entry) => entry.clientId),
  );
  return turns.map(([count, lane]) => ({ lane, priority: priorityOfTurn(Number(count)) }));
}

/**
 * Workers took deliveries of these clients: each one's count goes down by as many (never below zero: a count lost with
 * Redis's data). If no job waits any more in either lane, every count is cleared, whatever drifted. KEYS: the counts,
 * the first lane's wait list, the backlog lane's prioritized set and wait list. ARGV: pairs of client and deliveries
 * taken.
 */
const TURNS_TAKEN = redisScript<unknown>(
  'fairTurnsTaken',
  4,
  `for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('ZCARD', KEYS[3]) == 0 and redis.call('LLEN', KEYS[4]) == 0 then
  redis.call('DEL', KEYS[1])
end`,
);

/**
 * One round trip (the script above) on the connection of the shard's queues, for the deliveries taken by `clients`
 * (one entry per delivery, a client as often as it had deliveries taken).
 */
export async function turnsTaken(redis: RedisClient, shard: ShardQueue, clients: string[]): Promise<void> {
  const taken = new Map<string, number>();
  for (const client of clients) taken.set(client, (taken.get(client) ?? 0) + 1);
  await TURNS_TAKEN(
    redis,
    fairSharesKey(shard),
    shard.first.toKey('wait'),
    shard.backlog.toKey('prioritized'),
    shard.backlog.toKey('wait'),
    ...[...taken].flat(),
  );
}
