// Existing history, written straight into MySQL in batches: delivery rows (with their status changes and one
// attempt each) and agent events, on agents of their own that the drivers never touch. A delivery row holds facts,
// as the service writes it: its status change (with the agent's name at that moment) and its subscription.
import { randomBytes } from 'node:crypto';
import { ulid } from 'ulid';

const BATCH = 5000;
const DAY_MS = 24 * 3600_000;

async function insertRows(connection, table, columns, rows) {
  let firstId = null;
  for (let start = 0; start < rows.length; start += BATCH) {
    const chunk = rows.slice(start, start + BATCH);
    const [result] = await connection.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ?`, [chunk]);
    // One multi-row INSERT gets consecutive auto-increment ids (innodb_autoinc_lock_mode 0/1/2 alike for a
    // single statement with a known row count in MariaDB's default mode 1); recorded per chunk.
    if (firstId === null) firstId = [];
    firstId.push({ start, first: result.insertId, count: chunk.length });
  }
  return firstId ?? [];
}

function idOf(chunks, index) {
  const chunk = chunks.find((c) => index >= c.start && index < c.start + c.count);
  return chunk.first + (index - chunk.start);
}

export async function counts(connection) {
  const [[row]] = await connection.query(
    `SELECT (SELECT COUNT(*) FROM deliveries) AS deliveries, (SELECT COUNT(*) FROM agent_events) AS agent_events,
            (SELECT COUNT(*) FROM status_changes) AS status_changes, (SELECT COUNT(*) FROM delivery_attempts) AS delivery_attempts,
            (SELECT COUNT(*) FROM agents) AS agents`,
  );
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)]));
}

/**
 * Brings deliveries and agent_events up to `target` rows each (never down). Returns what was inserted and how long
 * it took.
 */
export async function seedHistory(connection, { clientId, target, tag }) {
  const started = performance.now();
  const before = await counts(connection);
  const newDeliveries = Math.max(0, target - before.deliveries);
  const newEvents = Math.max(0, target - before.agent_events);
  if (newDeliveries === 0 && newEvents === 0) return { before, inserted: { deliveries: 0, agent_events: 0 }, seconds: 0 };

  const agentCount = Math.max(20, Math.ceil(newEvents / 10));
  const now = Date.now();
  const agentRows = Array.from({ length: agentCount }, (_, i) => [
    clientId,
    'local',
    `h${tag}-${i}@history.bench`,
    'logged_out',
    0,
    new Date(now - 60 * DAY_MS),
  ]);
  const agentChunks = await insertRows(
    connection,
    'agents',
    ['client_id', 'agent_type', 'extension_name', 'agent_status', 'status_sequence', 'created_at'],
    agentRows,
  );
  const agentIds = agentRows.map((_, i) => idOf(agentChunks, i));

  const eventRows = Array.from({ length: newEvents }, (_, k) => [
    clientId,
    agentIds[k % agentCount],
    k % 2 ? 'agent-logout' : 'agent-login',
    k % 5 === 0 ? 'POST' : 'GET',
    `https://crm${k % 7}.example.com/hooks/agent-events?tenant=${clientId}&key=${randomBytes(6).toString('hex')}`,
    new Date(now - 45 * DAY_MS + k),
  ]);
  const eventChunks = await insertRows(
    connection,
    'agent_events',
    ['client_id', 'agent_id', 'event_type', 'method', 'url', 'created_at'],
    eventRows,
  );
  const eventsOfAgent = new Map();
  eventRows.forEach((row, k) => {
    const list = eventsOfAgent.get(row[1]) ?? [];
    list.push({ id: idOf(eventChunks, k), type: row[2], method: row[3], url: row[4] });
    eventsOfAgent.set(row[1], list);
  });

  const sequence = new Map();
  const changeRows = [];
  const deliveryRows = [];
  for (let k = 0; k < newDeliveries; k++) {
    const agentIndex = k % agentCount;
    const agentId = agentIds[agentIndex];
    const seq = (sequence.get(agentId) ?? 0) + 1;
    sequence.set(agentId, seq);
    const status = seq % 2 ? 'available' : 'logged_out';
    const changedAt = new Date(now - 30 * DAY_MS + Math.floor((k / Math.max(1, newDeliveries)) * 29 * DAY_MS));
    changeRows.push([
      clientId,
      agentId,
      'local',
      status === 'available' ? 'logged_out' : 'available',
      status,
      k % 3 ? 'api' : 'phone',
      seq,
      agentRows[agentIndex][2], // agent_name: the agent's extension_name
      changedAt,
    ]);
    const event = eventsOfAgent.get(agentId)?.find((e) => e.type === (status === 'available' ? 'agent-login' : 'agent-logout'));
    const dead = k % 33 === 0;
    deliveryRows.push([
      `msg_${ulid(changedAt.getTime())}`,
      clientId,
      agentId,
      event?.id ?? 0,
      null, // status_change_id, filled in below
      event?.url ?? `https://crm.example.com/hooks/old-${agentId}`,
      event?.method ?? 'GET',
      dead ? 'dead' : 'succeeded',
      dead ? 9 : 1,
      0,
      dead ? 503 : 200,
      dead ? 'HTTP 503; no retries left' : null,
      null,
      changedAt,
      dead ? null : new Date(changedAt.getTime() + 40),
    ]);
  }
  const changeChunks = await insertRows(
    connection,
    'status_changes',
    ['client_id', 'agent_id', 'agent_type', 'old_status', 'agent_status', 'event_source', 'sequence', 'agent_name', 'changed_at'],
    changeRows,
  );
  deliveryRows.forEach((row, k) => (row[4] = idOf(changeChunks, k)));
  await insertRows(
    connection,
    'deliveries',
    [
      'id',
      'client_id',
      'agent_id',
      'agent_event_id',
      'status_change_id',
      'url',
      'method',
      'state',
      'attempts',
      'attempts_before_retry',
      'last_status_code',
      'last_error',
      'next_attempt_at',
      'created_at',
      'delivered_at',
    ],
    deliveryRows,
  );
  await insertRows(
    connection,
    'delivery_attempts',
    ['delivery_id', 'attempt_number', 'started_at', 'duration_ms', 'status_code', 'error', 'response_snippet'],
    deliveryRows.map((row) => [row[0], row[8], row[13], 38, row[10], row[11], 'ok']),
  );
  // Agents end where their history leaves them (an even number of changes ends logged out; odd: available).
  const bySeq = new Map();
  for (const [agentId, seq] of sequence) bySeq.set(seq, [...(bySeq.get(seq) ?? []), agentId]);
  for (const [seq, ids] of bySeq) {
    for (let start = 0; start < ids.length; start += BATCH) {
      await connection.query(`UPDATE agents SET status_sequence = ?, agent_status = ? WHERE id IN (?)`, [
        seq,
        seq % 2 ? 'available' : 'logged_out',
        ids.slice(start, start + BATCH),
      ]);
    }
  }
  await connection.query('ANALYZE TABLE agents, agent_events, status_changes, deliveries, delivery_attempts');
  return {
    before,
    inserted: { deliveries: newDeliveries, agent_events: newEvents, agents: agentCount },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
