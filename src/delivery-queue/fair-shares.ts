import type { RedisClient } from '../redis/redis-connections.js';
import { redisScript } from '../redis/redis-script.js';
import type { Lane } from './queue.constants.js';
import type { ShardQueue } from './queue-shards.js';

/** BullMQ's largest job priority (2^21 - 1); a lower number goes first. */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/**
 * Fair shares of the workers between clients, kept in Redis beside each queue's jobs (so every API and worker process
 * shares them and they survive a restart), in four keys:
 *
 * - each client's waiting first-lane delivery (`fair:first`, its id and when it was queued). A client with nothing
 *   waiting (at an everyday rate, nearly every delivery) has its next delivery go to the queue's first lane, the rest
 *   of a backlog to its backlog lane (queue.constants.ts). A worker serves each lane with slots of its own, so a first
 *   delivery never waits for a slot a backlog holds; and a worker process of the first lane alone
 *   (WORKER_LANES=first) never runs a backlog's jobs at all. Whether that delivery still waits is read from its job:
 *   BullMQ stamps `processedOn` on a job when a worker takes it, so a worker taking a first-lane job writes nothing
 *   more (no round trip on the everyday path).
 * - each client's count of deliveries waiting in the backlog lane (`fair`): up by one when one is queued there, down
 *   when a worker takes it the first time.
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
 * Cost per delivery: one script when it is queued (its lane and priority), sent with a job alone's add to the first lane
 * in one round trip (delivery-queue.service.ts); for a backlog delivery, one more when it is taken, shared by the
 * deliveries taken while the previous one was in flight (delivery.processor.ts).
 *
 * A count can only drift upwards: a delivery counted in and never taken (its job removed with its agent, or added
 * twice by the reconciler). So whenever the queue has nothing waiting, every count there is should be zero: the
 * script that counts a backlog delivery taken clears the four keys when that was the last job waiting in either lane,
 * which starts the clock again (atomic with the other scripts on the queue). A client whose count drifted has its
 * next delivery go to the backlog lane, and so clears it when it is taken from an empty queue. Should a backlog
 * never empty for two million turns, priorities stop at BullMQ's largest and the lane is first come, first served
 * until it does.
 */
export function priorityOfTurn(turn: number): number {
  return Math.min(Math.max(Math.trunc(turn), 1), PRIORITY_LIMIT);
}

/** The keys of the fair shares, under the queue's own prefix and hash tag (`{prefix}:webhooks:fair...`), for both lanes. */
export function fairSharesKeys(shard: ShardQueue): { counts: string; clock: string; last: string; first: string } {
  return { counts: shard.key('fair'), clock: shard.key('fair:clock'), last: shard.key('fair:last'), first: shard.key('fair:first') };
}

/** A delivery's turn: its lane, and its priority there (0 in the first lane, which is first come, first served). */
export interface Turn {
  lane: Lane;
  priority: number;
}

/**
 * Gives each delivery its lane: a client's first waiting one goes to the first lane (nothing of its client waits: no
 * backlog counted, no first-lane job the client's mark names that a worker has not taken yet, none earlier in this
 * batch), the rest of a backlog to the backlog lane. A first-lane job whose hash is missing is taken as waiting for
 * `QUEUED_MS` after it was marked (its add follows this script), and as gone after that (removed with its agent). A
 * delivery already in a lane (its job there, or its lane chosen by another enqueue moments ago: the API's and a
 * reconciler's, or two reconcilers') keeps that lane, so its second add is the no-op a job id makes it (a job of the
 * same id in the other lane would be sent twice). The lane chosen is kept beside the queue for `LANE_HELD_MS`, far
 * longer than from this script to the job's add. In the backlog lane, its priority: one after the later of its
 * client's last priority and the clock. With an add to the first lane sent right behind the script (`firstAddFollows`),
 * a delivery given the backlog lane gets a stand-in under its id in the first lane (a hash of one field, `standIn`, for
 * `LANE_HELD_MS`), so that add finds the id taken and adds nothing (dropStandIn). KEYS: the counts, the clock, the
 * last priorities, the first-lane marks, then per delivery its held lane and its job hash in each lane. ARGV: the
 * lane's lifetime, the largest priority, now (ms), the first lane's job key prefix, `QUEUED_MS`, whether the first
 * lane's add follows (1/0), then each delivery's client and id.
 */
const TAKE_TURNS = redisScript<[number, Lane][]>(
  'fairTakeTurns',
  undefined,
  `local counts, clockKey, last, marks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, queuedMs = tonumber(ARGV[3]), tonumber(ARGV[5])
local function firstWaits(client)
  local mark = redis.call('HGET', marks, client)
  if not mark then return false end
  local id, at = string.match(mark, '^(.*):(%d+)$')
  local job = ARGV[4] .. id
  if redis.call('EXISTS', job) == 1 then return redis.call('HEXISTS', job, 'processedOn') == 0 end
  return now - tonumber(at) < queuedMs
end
local out = {}
local firstHere = {}
local clock = nil
for i = 1, (#KEYS - 4) / 3 do
  local held, first, backlog = KEYS[3 * i + 2], KEYS[3 * i + 3], KEYS[3 * i + 4]
  local client, id = ARGV[2 * i + 5], ARGV[2 * i + 6]
  local lane = redis.call('GET', held)
  if not lane then
    if redis.call('EXISTS', first) == 1 then lane = 'first'
    elseif redis.call('EXISTS', backlog) == 1 then lane = 'backlog'
    elseif firstHere[client] or tonumber(redis.call('HGET', counts, client) or '0') > 0 or firstWaits(client) then lane = 'backlog'
    else lane = 'first' end
    redis.call('SET', held, lane, 'PX', ARGV[1])
  end
  local priority = 0
  if lane == 'first' then
    firstHere[client] = true
    redis.call('HSET', marks, client, id .. ':' .. ARGV[3])
  else
    if ARGV[6] == '1' and redis.call('EXISTS', first) == 0 then
      redis.call('HSET', first, 'standIn', 1)
      redis.call('PEXPIRE', first, ARGV[1])
    end
    redis.call('HINCRBY', counts, client, 1)
    clock = clock or tonumber(redis.call('GET', clockKey) or '0')
    priority = math.min(math.max(tonumber(redis.call('HGET', last, client) or '0'), clock) + 1, tonumber(ARGV[2]))
    redis.call('HSET', last, client, priority)
  end
  out[i] = {priority, lane}
end
return out`,
);
const LANE_HELD_MS = 10_000;
/** How long a first-lane job not found is taken as still on its way in (far longer than from the script to its add). */
const QUEUED_MS = 5_000;

/**
 * One round trip (the script above), for deliveries of one shard's clients: each one's turn, in order. `firstAddFollows`:
 * the caller sends their add to the first lane right behind it, on the same connection (see the script).
 */
export async function takeTurns(
  redis: RedisClient,
  shard: ShardQueue,
  entries: { deliveryId: string; clientId: string }[],
  firstAddFollows = false,
): Promise<Turn[]> {
  const keys = entries.flatMap(({ deliveryId }) => [
    shard.key(`lane:${deliveryId}`),
    shard.first.toKey(deliveryId),
    shard.backlog.toKey(deliveryId),
  ]);
  const fair = fairSharesKeys(shard);
  const turns = await TAKE_TURNS(
    redis,
    keys.length + 4,
    fair.counts,
    fair.clock,
    fair.last,
    fair.first,
    ...keys,
    LANE_HELD_MS,
    PRIORITY_LIMIT,
    Date.now(),
    shard.first.toKey(''),
    QUEUED_MS,
    firstAddFollows ? 1 : 0,
    ...entries.flatMap((entry) => [entry.clientId, entry.deliveryId]),
  );
  return turns.map(([priority, lane]) => ({ lane, priority: lane === 'first' ? 0 : priorityOfTurn(Number(priority)) }));
}

/**
 * Takes away a stand-in the turn left (TAKE_TURNS, `firstAddFollows`) under a delivery's id in the first lane: 1, or 0
 * when there is none. Then either a job is there (the add went first after all: the turn's script, unknown to a Redis
 * just restarted, was sent again after it; or a Cluster redirected the turn), or another enqueue of the same delivery
 * took the stand-in away and adds the job to the backlog lane itself. KEYS: the delivery's job hash in the first lane.
 */
const DROP_STAND_IN = redisScript<number>(
  'fairDropStandIn',
  1,
  `if redis.call('HEXISTS', KEYS[1], 'standIn') == 1 and redis.call('HEXISTS', KEYS[1], 'timestamp') == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`,
);

/** Whether the first lane held the delivery's stand-in (now gone) rather than its job (DROP_STAND_IN). */
export async function dropStandIn(redis: RedisClient, shard: ShardQueue, deliveryId: string): Promise<boolean> {
  return (await DROP_STAND_IN(redis, shard.first.toKey(deliveryId))) === 1;
}

/** A backlog delivery a worker took from the queue the first time: its client, and its priority. */
export interface TurnTaken {
  clientId: string;
  priority: number;
}

/**
 * Workers took backlog deliveries of these clients: each one's count goes down by as many (never below zero: a count
 * lost with Redis's data), and a client with none left waiting loses its last priority; the clock moves up to the
 * largest priority taken. If no job waits any more in either lane, the four keys are cleared, whatever drifted. KEYS:
 * the counts, the clock, the last priorities, the first-lane marks, the first lane's wait list, the backlog lane's
 * prioritized set and wait list. ARGV: the largest priority taken, then pairs of client and deliveries taken.
 */
const TURNS_TAKEN = redisScript<unknown>(
  'fairTurnsTaken',
  7,
  `for i = 2, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
  end
end
if redis.call('LLEN', KEYS[5]) == 0 and redis.call('ZCARD', KEYS[6]) == 0 and redis.call('LLEN', KEYS[7]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
elseif tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[1])
end`,
);

/**
 * One round trip (the script above) on the connection of the shard's queues, for the backlog deliveries taken (one
 * entry per delivery, a client as often as it had deliveries taken).
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
    fair.first,
    shard.first.toKey('wait'),
    shard.backlog.toKey('prioritized'),
    shard.backlog.toKey('wait'),
    highest,
    ...[...perClient].flat(),
  );
}
