import type { TestApp } from './test-app.js';

/**
 * A witness of the order in which the writes of one agent happened: triggers installed in the suite's own
 * database append a row to `race_history` inside the writing transaction. Every writer of an agent's agent
 * events and status holds the agent's row lock until it commits, so per agent the ids of this table follow the
 * order of the commits. (Triggers do not fire for rows removed by ON DELETE CASCADE.)
 */
export async function installHistory(t: TestApp): Promise<void> {
  await t.sql(`
    CREATE TABLE race_history (
      id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
      kind varchar(16) NOT NULL,
      client_id varchar(64) NOT NULL,
      agent_id int unsigned NULL,
      row_id bigint unsigned NULL,
      detail varchar(32) NULL,
      count_before int NULL,
      count_after int NULL,
      event_limit int NULL
    )`);
  const triggers = [
    `CREATE TRIGGER race_event_created AFTER INSERT ON agent_events FOR EACH ROW
       INSERT INTO race_history (kind, client_id, agent_id, row_id, detail) VALUES ('event_created', NEW.client_id, NEW.agent_id, NEW.id, NEW.event_type)`,
    `CREATE TRIGGER race_event_updated AFTER UPDATE ON agent_events FOR EACH ROW
       INSERT INTO race_history (kind, client_id, agent_id, row_id, detail) VALUES ('event_updated', NEW.client_id, NEW.agent_id, NEW.id, NEW.event_type)`,
    `CREATE TRIGGER race_event_deleted AFTER DELETE ON agent_events FOR EACH ROW
       INSERT INTO race_history (kind, client_id, agent_id, row_id, detail) VALUES ('event_deleted', OLD.client_id, OLD.agent_id, OLD.id, OLD.event_type)`,
    `CREATE TRIGGER race_status_changed AFTER INSERT ON status_changes FOR EACH ROW
       INSERT INTO race_history (kind, client_id, agent_id, row_id, detail) VALUES ('status_changed', NEW.client_id, NEW.agent_id, NEW.id, NEW.agent_status)`,
    `CREATE TRIGGER race_counted AFTER UPDATE ON clients FOR EACH ROW
       INSERT INTO race_history (kind, client_id, count_before, count_after, event_limit)
       VALUES ('counted', NEW.id, OLD.agent_event_count, NEW.agent_event_count, NEW.agent_event_limit)`,
  ];
  for (const trigger of triggers) await t.sql(trigger);
}

interface HistoryRow {
  id: number;
  kind: 'event_created' | 'event_updated' | 'event_deleted' | 'status_changed' | 'counted';
  client_id: string;
  agent_id: number | null;
  row_id: number | null;
  detail: string | null;
  count_before: number | null;
  count_after: number | null;
  event_limit: number | null;
}

export interface DeliveryMismatch {
  statusChangeId: number;
  agentId: number;
  expected: number[];
  got: number[];
}

/**
 * Replays the history agent by agent: each status change must have exactly one delivery for every agent event of
 * its type that existed when it committed, and none for any other. Returns the status changes where that fails
 * (of one client, or of all).
 */
export async function deliveryMismatches(t: TestApp, clientId?: string): Promise<DeliveryMismatch[]> {
  const where = clientId === undefined ? '' : ' AND client_id = ?';
  const params = clientId === undefined ? [] : [clientId];
  const history = await t.sql<HistoryRow>(`SELECT * FROM race_history WHERE kind <> 'counted'${where} ORDER BY id`, params);
  const deliveries = await t.sql<{ status_change_id: number; agent_event_id: number }>(
    `SELECT status_change_id, agent_event_id FROM deliveries WHERE 1${where}`,
    params,
  );
  const got = new Map<number, number[]>();
  for (const delivery of deliveries) {
    const id = Number(delivery.status_change_id);
    got.set(id, [...(got.get(id) ?? []), Number(delivery.agent_event_id)]);
  }
  const live = new Map<number, Map<number, string>>();
  const mismatches: DeliveryMismatch[] = [];
  for (const row of history) {
    const agentId = Number(row.agent_id);
    const events = live.get(agentId) ?? new Map<number, string>();
    live.set(agentId, events);
    if (row.kind === 'event_created' || row.kind === 'event_updated') events.set(Number(row.row_id), row.detail as string);
    else if (row.kind === 'event_deleted') events.delete(Number(row.row_id));
    else {
      const eventType = row.detail === 'available' ? 'agent-login' : 'agent-logout';
      const expected = [...events].filter(([, type]) => type === eventType).map(([id]) => id);
      const actual = got.get(Number(row.row_id)) ?? [];
      const sort = (ids: number[]) => [...ids].sort((a, b) => a - b);
      if (JSON.stringify(sort(expected)) !== JSON.stringify(sort(actual))) {
        mismatches.push({ statusChangeId: Number(row.row_id), agentId, expected: sort(expected), got: sort(actual) });
      }
    }
  }
  return mismatches;
}

/** Every commit that raised a client's count of agent events above its limit (there must be none). */
export async function countsPastLimit(t: TestApp): Promise<HistoryRow[]> {
  return t.sql<HistoryRow>(
    "SELECT * FROM race_history WHERE kind = 'counted' AND count_after > count_before AND count_after > event_limit ORDER BY id",
  );
}
