import type { RedisClient } from '../redis/redis-connections.js';

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
 * (ordering.ts). Cost per delivery: one HINCRBY when it is queued and one when it is taken.
 *
 * A count can only drift upwards: a delivery counted in and never taken (its job removed with its agent, or added
 * twice by the reconciler). So whenever the queue has nothing waiting, every count there is should be zero, and
 * `forgetIfIdle` clears them (one script, atomic with the adds, run when a worker finds the queue drained).
 */
export function priorityOfTurn(turn: number): number {
  return Math.min(Math.max(Math.trunc(turn), 1), PRIORITY_LIMIT);
}

/** The hash of counts, under the queue's own prefix and hash tag (`{prefix}:webhooks:fair`). */
export function fairSharesKey(queueKey: (type: string) => string): string {
  return queueKey('fair');
}

/** Counts these deliveries in, one per entry; returns each one's priority, in order. */
export async function takeTurns(redis: RedisClient, key: string, clientIds: string[]): Promise<number[]> {
  const pipeline = redis.pipeline();
  for (const clientId of clientIds) pipeline.hincrby(key, clientId, 1);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, count]) => {
    if (error) throw error;
    return priorityOfTurn(Number(count));
  });
}

/** A worker took one of the client's deliveries: one fewer waits. Never below zero (a count lost with Redis's data). */
export async function turnTaken(redis: RedisClient, key: string, clientId: string): Promise<void> {
  const left = await redis.hincrby(key, clientId, -1);
  if (left <= 0) await redis.hdel(key, clientId);
}

/** Clears the counts if no job is waiting (all of them taken): a drifted count then costs its client nothing more. */
const FORGET_IF_IDLE = `if redis.call('ZCARD', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0 then return redis.call('DEL', KEYS[1]) end return 0`;

export async function forgetIfIdle(redis: RedisClient, queueKey: (type: string) => string): Promise<boolean> {
  const cleared = await redis.eval(FORGET_IF_IDLE, 3, fairSharesKey(queueKey), queueKey('prioritized'), queueKey('wait'));
  return Number(cleared) === 1;
}
