import type { DataSource, EntityManager } from 'typeorm';

const ATTEMPTS = 5;

/**
 * Runs `work`, and again when InnoDB chose its transaction as the victim of a deadlock. Locks taken in one order
 * (agent, client, agent events) avoid most deadlocks, but not those of the locks InnoDB takes by itself (a
 * foreign-key check's shared lock on the parent row, gap locks of unique indexes). A victim is rolled back whole,
 * so running it again is safe; `work` must be one transaction and have no effect outside it.
 */
export async function retryDeadlocks<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { driverError?: { code?: string } }).driverError?.code;
      if (attempt >= ATTEMPTS || code !== 'ER_LOCK_DEADLOCK') throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

/** Runs `work` in a transaction, again when it was a deadlock's victim (see `retryDeadlocks`). */
export function transaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return retryDeadlocks(() => dataSource.transaction(work));
}
