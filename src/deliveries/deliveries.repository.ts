import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AgentStatus, AgentType } from '../status/agent-state.js';
import { retryDeadlocks, transaction } from '../database/transaction.js';
import { callPrepared, selectPrepared } from '../database/prepared.js';
import type { EventSource } from '../status/event-source.js';
import { eventTypeFor, type StatusChangeFacts } from '../status/status-rules.js';
import { deliveryJob, type DeliveryJob } from '../delivery-queue/delivery-job.js';
import type { DeliveryKind } from './delivery-kind.js';
import { DELIVERY_STATES, type DeliveryState, type RecoverableState } from './delivery-state.js';

/** The facts of a delivery's status change, from which its payload is built (agentEventPayload). */
interface ChangeFactsColumns {
  agent_id: number;
  agent_type: AgentType;
  agent_status: AgentStatus;
  event_source: EventSource;
  agent_name: string | null;
  sequence: number;
  changed_at: Date;
}

/** Everything one attempt needs: the delivery, its status change and its client's signing secrets. */
export interface DeliveryToSend extends ChangeFactsColumns {
  id: string;
  url: string;
  method: 'GET' | 'POST';
  kind: DeliveryKind;
  state: string;
  attempts: number;
  attempts_before_retry: number;
  manual_retries: number;
  signing_secret: string;
  previous_signing_secret: string | null;
  secret_rotated_at: Date | null;
  held_reason: string | null;
  /** The newest older delivery of the same agent to the same URL that is still pending (ordering.ts). */
  older_id: string | null;
  /** Whether a newer delivery of the same agent to the same URL has been attempted or has succeeded. */
  newer_sent: number;
}

/** A row of loadToSendSql: a batch's has `newer_sent`; a delivery's alone, whether its agent changed again since. */
type LoadedRow = Omit<DeliveryToSend, 'newer_sent'> & { newer_sent?: number | string; newer_change?: number | string };

/** A delivery as the delivery log shows it. */
export interface DeliveryLogRow extends ChangeFactsColumns {
  id: string;
  client_id: string;
  agent_event_id: number;
  url: string;
  method: string;
  kind: DeliveryKind;
  state: DeliveryState;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  held_reason: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
}

/** A row's status-change columns as the facts the payload is built from. */
export function changeFacts(row: ChangeFactsColumns): StatusChangeFacts {
  return {
    agentStatus: row.agent_status,
    agentType: row.agent_type,
    eventSource: row.event_source,
    agentId: Number(row.agent_id),
    agentName: row.agent_name,
  };
}

export interface AttemptRow {
  attempt_number: number;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_snippet: string | null;
}

/** What recording an attempt tells: the delivery's count of manual retries, and whether its agent has a newer change. */
export interface RecordedAttempt {
  manualRetries: number;
  newerChange: boolean;
}

/** One attempt and the outcome decided for it, as `record_attempts` takes it (times as `sqlTime` strings). */
export interface AttemptToRecord {
  id: string;
  attempt: number;
  started_at: string;
  duration_ms: number;
  status_code?: number;
  error?: string;
  snippet?: string;
  manual_retries: number;
  state: DeliveryState;
  last_error?: string;
  next_attempt_at?: string;
  delivered_at?: string;
  finished_at: string;
  /** The delivery's agent and its status change's sequence, as loaded to send it (`record_attempt` answers from them). */
  agent_id: number;
  sequence: number;
}

export interface HoldToRecord {
  deliveryId: string;
  reason: string;
  until: Date;
}

/** A bulk recovery as `delivery_recoveries` holds it. */
export interface RecoveryRow {
  id: string;
  client_id: string;
  since: Date;
  agent_event_id: number | null;
  state: RecoverableState;
  matched: number;
  queued: number;
  created_at: Date;
}

export type RecoveryToStart = Omit<RecoveryRow, 'matched' | 'queued'>;

/** A sync's outbox row (`insertSync`). */
export interface SyncToInsert {
  id: string;
  clientId: string;
  agentId: number;
  agentEventId: number;
  statusChangeId: string;
  url: string;
  method: 'GET' | 'POST';
  createdAt: Date;
}

export type LogFilter = { agentEventId: number } | { clientId: string; state?: DeliveryState };

const FACTS = 's.agent_id, s.agent_type, s.agent_status, s.event_source, s.agent_name, s.sequence, s.changed_at';

const LOG_SELECT = `
  SELECT d.id, d.client_id, d.agent_event_id, d.url, d.method, d.kind, d.state, d.attempts, d.last_status_code,
         d.last_error, d.held_reason, d.next_attempt_at, d.created_at, d.delivered_at, ${FACTS}
    FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id`;

/** A recovery updates its deliveries this many ids per statement. */
const RECOVERY_UPDATE_BATCH = 1000;

const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** A date as the connection writes DATETIME values (UTC), for a JSON batch read by a procedure. */
export function sqlTime(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}

/** The largest load sent as a prepared statement (`loadToSend`). */
export const PREPARED_LOAD_LIMIT = 4;

/**
 * Whether a newer delivery of the same agent to the same URL than `d` has been attempted or has succeeded, by
 * idx_deliveries_agent_order (see loadToSendSql).
 */
const NEWER_SENT = `EXISTS (SELECT 1 FROM deliveries n FORCE INDEX (idx_deliveries_agent_order)
                 WHERE n.agent_id = d.agent_id AND n.state IN (${DELIVERY_STATES.map((state) => `'${state}'`).join(', ')})
                   AND n.status_change_id > d.status_change_id AND (n.attempts > 0 OR n.state = 'succeeded')
                   AND n.url = d.url)`;

/**
 * The load of `count` deliveries to send (DeliveriesRepository.loadToSend). The order's facts are read by the agent's
 * deliveries in the order of their status changes (idx_deliveries_agent_order: an agent's status changes are numbered
 * under its lock, so a change's id grows with its sequence). The agent's other deliveries are passed over in the
 * index, no row read, unless one could be the answer: a pending one older than the delivery (the newest such is the
 * older_id), or an attempted one newer (newer_sent). So the load of an agent's oldest delivery reads a handful of rows
 * whatever its backlog; before, both facts read a row of the backlog, and its status change, per delivery in it.
 * A newer one can have gone out only when the agent has a newer change than the delivery's (its status_sequence is
 * past the change's, or it is gone). The index is forced: for the ORDER BY … LIMIT 1, MariaDB otherwise walks
 * idx_deliveries_status_change, every delivery of every agent before the change.
 *
 * A delivery loaded alone (a quiet moment's: nearly always its agent's newest) answers only that condition, as
 * `newer_change`, and newerSentSql follows for it when it holds. Even behind a condition that is false, the subquery
 * cost a load alone 40–190 µs of MariaDB's CPU and 60–280 µs of its time, out of about 410 and 640 (bench/README.md,
 * What the runs showed). A batch (a busy moment's, whose agents often changed again since) keeps it: one round trip
 * for the batch, where a second one cost the worker 5–10 % more CPU per delivery at saturation.
 */
export function loadToSendSql(count: number): string {
  const newer = count === 1 ? 'AS newer_change' : `AND ${NEWER_SENT} AS newer_sent`;
  return `SELECT d.id, d.url, d.method, d.kind, d.state, d.attempts, d.attempts_before_retry, d.manual_retries, d.held_reason, ${FACTS},
              c.signing_secret, c.previous_signing_secret, c.secret_rotated_at,
              (SELECT o.id FROM deliveries o FORCE INDEX (idx_deliveries_agent_order)
                WHERE o.agent_id = d.agent_id AND o.state = 'pending' AND o.status_change_id < d.status_change_id AND o.url = d.url
                ORDER BY o.status_change_id DESC, o.id DESC LIMIT 1) AS older_id,
              (a.id IS NULL OR a.status_sequence > s.sequence) ${newer}
         FROM deliveries d
         JOIN status_changes s ON s.id = d.status_change_id
         JOIN clients c ON c.id = d.client_id
         LEFT JOIN agents a ON a.id = d.agent_id
        WHERE d.id IN (${marks(count)})`;
}

/** Of `count` deliveries, those a newer delivery of the same agent to the same URL has gone out before (loadToSendSql). */
export function newerSentSql(count: number): string {
  return `SELECT d.id FROM deliveries d WHERE d.id IN (${marks(count)}) AND ${NEWER_SENT}`;
}

/**
 * The delivery table family: `deliveries` (the outbox rows `change_agents` writes) and `delivery_attempts`. Every
 * statement on them is here; attempts are recorded by `record_attempts` (a batch) or `record_attempt` (an attempt
 * alone), whose one current definitions are record_attempts.sql and record_attempt.sql beside this file.
 */
@Injectable()
export class DeliveriesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Everything the requests need: the rows, their status changes, the clients' secrets, and the facts of the per-agent
   * order: the newest older pending delivery to the same URL and whether a newer one has gone out (loadToSendSql; for
   * a delivery alone whose agent has changed again since, newerSentSql in a second round trip).
   */
  async loadToSend(ids: string[]): Promise<Map<string, DeliveryToSend>> {
    const rows = await this.select<LoadedRow>(loadToSendSql(ids.length), ids);
    const changedSince = rows.filter((row) => Number(row.newer_change) === 1).map((row) => row.id);
    const newerSent = new Set(
      changedSince.length === 0
        ? []
        : (await this.select<{ id: string }>(newerSentSql(changedSince.length), changedSince)).map((row) => row.id),
    );
    return new Map(
      rows.map(({ newer_change: _changed, ...row }) => [
        row.id,
        { ...row, newer_sent: Number(row.newer_sent) === 1 || newerSent.has(row.id) ? 1 : 0 },
      ]),
    );
  }

  /**
   * A read by ids. A small batch (a quiet moment's delivery) is prepared once per pooled connection and size: the
   * order's subqueries cost MariaDB more to parse and plan than to run (prepared.ts). A large one shares that cost
   * between its deliveries, and sent as text it keeps the statements MariaDB holds prepared (max_prepared_stmt_count,
   * for every client of the server) at PREPARED_LOAD_LIMIT per connection, and newerSentSql's one.
   */
  private async select<T>(sql: string, ids: string[]): Promise<T[]> {
    return ids.length <= PREPARED_LOAD_LIMIT
      ? selectPrepared<T>(this.dataSource, sql, ids)
      : ((await this.dataSource.query(sql, ids)) as T[]);
  }

  /**
   * Each attempt's row and its delivery's new state, for a whole batch, in one transaction and one round trip (in id
   * order, the order the batch's deliveries are locked in). Returns, for each locked delivery, its count of manual
   * retries, and whether its agent may have a newer change, whose deliveries may wait for this one: what
   * `record_attempt` reads for an attempt alone (record_attempt.sql); a batch, a busy moment's, is taken to have one.
   */
  async recordAttempts(attempts: AttemptToRecord[]): Promise<Map<string, RecordedAttempt>> {
    const batch = [...attempts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const [locked] = (await retryDeadlocks(() =>
      batch.length === 1 ? this.recordAttemptAlone(batch[0]) : this.recordAttemptBatch(batch),
    )) as [{ id: string; manual_retries: number; newer_change?: number | string }[]];
    return new Map(
      locked.map((row) => [
        row.id,
        { manualRetries: Number(row.manual_retries), newerChange: row.newer_change === undefined || Number(row.newer_change) === 1 },
      ]),
    );
  }

  /** `record_attempts`: the batch as JSON, in id order (record_attempts.sql). */
  recordAttemptBatch(batch: AttemptToRecord[]): Promise<unknown> {
    return this.dataSource.query('CALL record_attempts(?)', [JSON.stringify(batch)]);
  }

  /** `record_attempt`: an attempt alone (the everyday case), its fields as parameters (record_attempt.sql). */
  recordAttemptAlone(attempt: AttemptToRecord): Promise<unknown> {
    return callPrepared(this.dataSource, 'CALL record_attempt(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      attempt.id,
      attempt.attempt,
      attempt.started_at,
      attempt.duration_ms,
      attempt.status_code ?? null,
      attempt.error ?? null,
      attempt.snippet ?? null,
      attempt.manual_retries,
      attempt.state,
      attempt.last_error ?? null,
      attempt.next_attempt_at ?? null,
      attempt.delivered_at ?? null,
      attempt.finished_at,
      attempt.agent_id,
      attempt.sequence,
    ]);
  }

  /**
   * When an older delivery was created and is next due, for the order's wait (ordering.ts), and whether it is held up
   * itself: it failed before, or waits for one that did.
   */
  async orderTimes(id: string): Promise<{ createdAt: Date; nextAttemptAt: Date | null; heldUp: boolean } | undefined> {
    const [row] = (await this.dataSource.query('SELECT created_at, next_attempt_at, attempts, held_reason FROM deliveries WHERE id = ?', [
      id,
    ])) as {
      created_at: Date;
      next_attempt_at: Date | null;
      attempts: number;
      held_reason: string | null;
    }[];
    return (
      row && { createdAt: row.created_at, nextAttemptAt: row.next_attempt_at, heldUp: Number(row.attempts) > 0 || row.held_reason !== null }
    );
  }

  /** A delivery a newer one has gone out before: superseded, never sent. */
  async markSuperseded(id: string, reason: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE deliveries SET state = 'superseded', last_error = ?, held_reason = NULL WHERE id = ? AND state = 'pending'`,
      [reason.slice(0, 512), id],
    );
  }

  /**
   * The older pending deliveries of an agent to a URL (changes before `sequence`) created before `createdBefore` give
   * way to a newer one: superseded, never sent after it. Returns how many.
   */
  async supersedeOlder(agentId: number, url: string, sequence: number, createdBefore: Date, reason: string): Promise<number> {
    const result = (await this.dataSource.query(
      `UPDATE deliveries o JOIN status_changes os ON os.id = o.status_change_id
          SET o.state = 'superseded', o.last_error = ?, o.held_reason = NULL
        WHERE o.agent_id = ? AND o.state = 'pending' AND o.url = ? AND os.sequence < ? AND o.created_at <= ?`,
      [reason.slice(0, 512), agentId, url, sequence, createdBefore],
    )) as { affectedRows?: number };
    return result.affectedRows ?? 0;
  }

  /** Held deliveries keep their attempts; the log shows why they wait and until when. */
  async recordHolds(holds: HoldToRecord[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE deliveries SET held_reason = CASE id ${holds.map(() => 'WHEN ? THEN ?').join(' ')} END,
              next_attempt_at = CASE id ${holds.map(() => 'WHEN ? THEN ?').join(' ')} END
        WHERE id IN (${marks(holds.length)}) AND state = 'pending'`,
      [
        ...holds.flatMap((hold) => [hold.deliveryId, hold.reason.slice(0, 255)]),
        ...holds.flatMap((hold) => [hold.deliveryId, hold.until]),
        ...holds.map((hold) => hold.deliveryId),
      ],
    );
  }

  /** Newest first; one extra row tells whether there is a next page, so a page costs the same at any history size. */
  async logPage(filter: LogFilter, page: number, perPage: number): Promise<DeliveryLogRow[]> {
    const [where, params] =
      'agentEventId' in filter
        ? ['d.agent_event_id = ?', [filter.agentEventId]]
        : filter.state
          ? ['d.client_id = ? AND d.state = ?', [filter.clientId, filter.state]]
          : ['d.client_id = ?', [filter.clientId]];
    return (await this.dataSource.query(`${LOG_SELECT} WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT ? OFFSET ?`, [
      ...params,
      perPage + 1,
      (page - 1) * perPage,
    ])) as DeliveryLogRow[];
  }

  async logGet(clientId: string, deliveryId: string): Promise<DeliveryLogRow | undefined> {
    const [row] = (await this.dataSource.query(`${LOG_SELECT} WHERE d.id = ? AND d.client_id = ?`, [
      deliveryId,
      clientId,
    ])) as DeliveryLogRow[];
    return row;
  }

  async attempts(deliveryId: string): Promise<AttemptRow[]> {
    return (await this.dataSource.query(
      `SELECT attempt_number, started_at, duration_ms, status_code, error, response_snippet
         FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt_number, id`,
      [deliveryId],
    )) as AttemptRow[];
  }

  /**
   * A manual retry: pending again, due now, on a fresh schedule; the count of manual retries tells an attempt in
   * flight that it must not write its outcome over this one. False when the client has no such delivery.
   */
  async markRetried(clientId: string, deliveryId: string): Promise<boolean> {
    const retried = (await this.dataSource.query(
      `UPDATE deliveries SET state = 'pending', manual_retries = manual_retries + 1, attempts_before_retry = attempts, next_attempt_at = ?
        WHERE id = ? AND client_id = ?`,
      [new Date(), deliveryId, clientId],
    )) as { affectedRows: number };
    return retried.affectedRows > 0;
  }

  /**
   * In the caller's transaction: a sync of the agent's state to one agent event's URL, pending and due now. It is a
   * delivery like any other (queue, retries, log, the per-agent order by its status change's sequence).
   */
  async insertSync(manager: EntityManager, sync: SyncToInsert): Promise<void> {
    await manager.query(
      `INSERT INTO deliveries (id, client_id, agent_id, agent_event_id, status_change_id, url, method, kind, created_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'sync', ?, ?)`,
      [sync.id, sync.clientId, sync.agentId, sync.agentEventId, sync.statusChangeId, sync.url, sync.method, sync.createdAt, sync.createdAt],
    );
  }

  /**
   * In the caller's transaction: the pending deliveries of a deleted agent or agent event end as `dead` with the
   * reason, so no worker sends them any more (an attempt loads only pending ones). They stay in the log and can be
   * retried by hand. Returns how many.
   */
  async cancelPending(manager: EntityManager, of: { agentId: number } | { agentEventId: number }, reason: string): Promise<number> {
    const [column, id] = 'agentId' in of ? ['agent_id', of.agentId] : ['agent_event_id', of.agentEventId];
    const result = (await manager.query(
      `UPDATE deliveries SET state = 'dead', last_error = ?, held_reason = NULL WHERE ${column} = ? AND state = 'pending'`,
      [reason, id],
    )) as { affectedRows?: number };
    return result.affectedRows ?? 0;
  }

  /** A page of pending deliveries due by `cutoff`, in (next_attempt_at, id) order after `after`: the reconciler's walk. */
  async duePage(cutoff: Date, after: { next_attempt_at: Date; id: string } | undefined, limit: number) {
    return (await this.dataSource.query(
      `SELECT id, client_id, next_attempt_at FROM deliveries
        WHERE state = 'pending' AND next_attempt_at <= ?
          ${after ? 'AND (next_attempt_at > ? OR (next_attempt_at = ? AND id > ?))' : ''}
        ORDER BY next_attempt_at, id LIMIT ${Number(limit)}`,
      after ? [cutoff, after.next_attempt_at, after.next_attempt_at, after.id] : [cutoff],
    )) as { id: string; client_id: string; next_attempt_at: Date }[];
  }

  /** The jobs of these deliveries (those that exist), in the order asked, named after whose webhooks they are. */
  async jobsOf(ids: string[]): Promise<DeliveryJob[]> {
    const rows = (await this.dataSource.query(
      `SELECT d.id, d.client_id, d.agent_id, d.url, s.agent_type, s.agent_status
         FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
        WHERE d.id IN (${marks(ids.length)})`,
      ids,
    )) as { id: string; client_id: string; agent_id: number; url: string; agent_type: AgentType; agent_status: AgentStatus }[];
    const jobs = new Map(
      rows.map((row) => [
        row.id,
        deliveryJob(row.id, {
          clientId: row.client_id,
          agentType: row.agent_type,
          agentId: row.agent_id,
          eventType: eventTypeFor(row.agent_status),
          url: row.url,
        }),
      ]),
    );
    return ids.flatMap((id) => jobs.get(id) ?? []);
  }

  /**
   * Removes (in the caller's transaction) up to `limit` deliveries in `state` created before `cutoff`, with their
   * attempts, skipping rows another transaction holds; returns the removed deliveries' status change ids.
   */
  async pruneBatch(manager: EntityManager, state: Exclude<DeliveryState, 'pending'>, cutoff: Date, limit: number) {
    const rows = (await manager.query(
      `SELECT id, status_change_id FROM deliveries
        WHERE state = ? AND created_at < ? ORDER BY created_at, id LIMIT ${Number(limit)} FOR UPDATE SKIP LOCKED`,
      [state, cutoff],
    )) as { id: string; status_change_id: string }[];
    if (rows.length === 0) return { deliveries: 0, statusChangeIds: [] as string[] };
    const ids = rows.map((row) => row.id);
    await manager.query('DELETE FROM delivery_attempts WHERE delivery_id IN (?)', [ids]);
    await manager.query('DELETE FROM deliveries WHERE id IN (?)', [ids]);
    return { deliveries: ids.length, statusChangeIds: [...new Set(rows.map((row) => row.status_change_id))] };
  }
  /**
   * A bulk recovery, in one transaction. Of the client's deliveries in `state` created at or after `since` (of one
   * agent event when given; of agent events that still exist), those that are the newest delivery of their agent to
   * their URL — no delivery of the same agent and URL has a higher sequence, in any state — are sent again like a
   * manual retry, naming the recovery; the older ones are left as they are. The recovery's row counts both. Returns it,
   * and the ids of the deliveries sent again, in the order of their changes.
   */
  async startRecovery(recovery: RecoveryToStart): Promise<{ recovery: RecoveryRow; resent: string[] }> {
    const { id, client_id: clientId, since, agent_event_id: agentEventId, state } = recovery;
    const [ofEvent, eventParams] = agentEventId === null ? ['', []] : ['AND m.agent_event_id = ?', [agentEventId]];
    return transaction(this.dataSource, async (manager) => {
      // The newest per agent and URL over every delivery of the agents that have a matching one (idx_deliveries_agent_order).
      const matching = (await manager.query(
        `SELECT m.id, m.newest FROM (
           SELECT d.id, d.client_id, d.agent_event_id, d.state, d.created_at, s.sequence,
                  s.sequence = MAX(s.sequence) OVER (PARTITION BY d.agent_id, d.url) AS newest
             FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
            WHERE d.agent_id IN (SELECT m.agent_id FROM deliveries m
                                  WHERE m.client_id = ? AND m.state = ? AND m.created_at >= ? ${ofEvent})
         ) m JOIN agent_events e ON e.id = m.agent_event_id
         WHERE m.client_id = ? AND m.state = ? AND m.created_at >= ? ${ofEvent}`,
        [clientId, state, since, ...eventParams, clientId, state, since, ...eventParams],
      )) as { id: string; newest: number }[];
      const newest = matching.filter((row) => Number(row.newest) === 1).map((row) => row.id);
      let queued = 0;
      for (let start = 0; start < newest.length; start += RECOVERY_UPDATE_BATCH) {
        const result = (await manager.query(
          `UPDATE deliveries SET state = 'pending', manual_retries = manual_retries + 1, attempts_before_retry = attempts,
                  next_attempt_at = ?, held_reason = NULL, recovery_id = ?
            WHERE id IN (?) AND client_id = ? AND state = ?`,
          [recovery.created_at, id, newest.slice(start, start + RECOVERY_UPDATE_BATCH), clientId, state],
        )) as { affectedRows: number };
        queued += result.affectedRows;
      }
      const row: RecoveryRow = { ...recovery, matched: matching.length, queued };
      await manager.query(
        `INSERT INTO delivery_recoveries (id, client_id, since, agent_event_id, state, matched, queued, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, clientId, since, agentEventId, state, row.matched, queued, recovery.created_at],
      );
      const resent = (await manager.query(
        `SELECT d.id FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
          WHERE d.recovery_id = ? AND d.state = 'pending' ORDER BY s.changed_at, s.sequence, d.id`,
        [id],
      )) as { id: string }[];
      return { recovery: row, resent: resent.map((delivery) => delivery.id) };
    });
  }

  /** Up to `limit` bulk recoveries made before `cutoff` (their progress is no longer readable); returns how many went. */
  async pruneRecoveries(manager: EntityManager, cutoff: Date, limit: number): Promise<number> {
    const result = (await manager.query('DELETE FROM delivery_recoveries WHERE created_at < ? ORDER BY created_at LIMIT ?', [
      cutoff,
      limit,
    ])) as { affectedRows: number };
    return result.affectedRows;
  }

  async recovery(clientId: string, recoveryId: string): Promise<RecoveryRow | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT id, client_id, since, agent_event_id, state, matched, queued, created_at
         FROM delivery_recoveries WHERE id = ? AND client_id = ?`,
      [recoveryId, clientId],
    )) as RecoveryRow[];
    return row;
  }

  /** How many of the deliveries a recovery sent again are in each state now (idx_deliveries_recovery). */
  async recoveryProgress(recoveryId: string): Promise<Record<DeliveryState, number>> {
    const rows = (await this.dataSource.query('SELECT state, COUNT(*) AS n FROM deliveries WHERE recovery_id = ? GROUP BY state', [
      recoveryId,
    ])) as { state: DeliveryState; n: number }[];
    const progress = { pending: 0, succeeded: 0, dead: 0, superseded: 0 };
    for (const row of rows) progress[row.state] = Number(row.n);
    return progress;
  }
}
