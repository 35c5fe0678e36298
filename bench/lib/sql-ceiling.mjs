// The SQL ceiling: the service's own SQL statements for a status change and for its delivery, sent from N
// connections with no HTTP, no Redis and no NestJS in between, one delivery per statement (the worker batches
// concurrent jobs; this does not). The service's end-to-end rate is read as a ratio to it.
import mysql from 'mysql2/promise';
import { ulid } from 'ulid';
import { cpuSince, cpuSnapshot, counterDelta, mysqlCounters, round2, serverPids } from './infra.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** As newMessageIdBase (src/common/message-id.ts): a change's delivery ids are this and four characters. */
const newIdBase = () => `msg_${ulid(undefined, Math.random)}`.slice(0, 26);
/** As sqlTime in src/deliveries/deliveries.repository.ts: UTC, as the connection writes dates. */
const sqlTime = (date) => date.toISOString().slice(0, 23).replace('T', ' ');

/** The service's statements, as it sends them; `n` is the batch size where the service batches (here always 1). */
const SQL = {
  // src/status/status-changes.repository.ts (StatusChangesRepository.apply, called by StatusService.apply in
  // src/status/status.service.ts): the whole status change, one round trip; a change alone goes to `change_agent`
  // with its fields as parameters (a prepared statement, as the service sends it: src/database/prepared.ts), a batch
  // to `change_agents` as JSON.
  changeAgent: 'CALL change_agent(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  changeAgents: 'CALL change_agents(?, ?)',
  // src/deliveries/deliveries.repository.ts (DeliveriesRepository.loadToSend, called by DeliveryAttemptService.load
  // in src/delivery-worker/delivery-attempt.service.ts): the service's own statement (loadToSendSql, from the build,
  // set by `serviceStatements`): everything a webhook request needs, and the facts of the per-agent order. Executed
  // as a prepared statement, as the service runs it (src/database/prepared.ts). Then, for a delivery whose agent has
  // changed again since (`newer_change`), whether a newer delivery has gone out (newerSentSql, prepared as well).
  load: undefined,
  newerSent: undefined,
  // src/deliveries/deliveries.repository.ts (DeliveriesRepository.recordAttempts, called by DeliveryAttemptService.record
  // in src/delivery-worker/delivery-attempt.service.ts): the attempts and outcomes, one round trip; an attempt alone
  // goes to `record_attempt` with its fields as parameters (a prepared statement, as the service sends it).
  recordAttempt: 'CALL record_attempt(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
};

/** The statements the service builds itself, read from its build (dist/, made before a bench runs). */
async function serviceStatements() {
  const { loadToSendSql, newerSentSql } = await import('../../dist/src/deliveries/deliveries.repository.js');
  SQL.load = loadToSendSql;
  SQL.newerSent = newerSentSql;
}

/**
 * One change as StatusService.apply puts it in the `change_agents` batch (JSON.stringify leaves out what is
 * undefined: a status change from the API has no found_by and no name): its event type is eventTypeFor(status)
 * (src/status/status-rules.ts), without which the procedure writes no delivery.
 */
const changeOf = (clientId, agent) => ({
  client: clientId,
  type: 'local',
  agent: agent.id,
  status: agent.status,
  event_type: agent.status === 'available' ? 'agent-login' : 'agent-logout',
  source: 'api',
  id_base: newIdBase(),
});

/** As src/database/transaction.ts: a deadlock's victim is run again (counted; none are expected here). */
async function retryDeadlocks(tally, work) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= 5 || error.code !== 'ER_LOCK_DEADLOCK') throw error;
      tally.deadlocks++;
      await sleep(Math.random() * 5 * attempt);
    }
  }
}

/** `change_agent`'s parameters for a change, as StatusChangesRepository.applyAlone passes them. */
const aloneParams = (c) => [c.client, c.type, c.agent, null, null, c.status, c.event_type, c.source, c.id_base, new Date()];

/** A change alone, as StatusChangesRepository.applyAlone sends it: the procedure's second result set is the new deliveries. */
async function changeStatus(connection, tally, clientId, agent) {
  const params = aloneParams(changeOf(clientId, agent));
  const [[, deliveries]] = await retryDeadlocks(tally, () => connection.execute(SQL.changeAgent, params));
  return deliveries;
}

/**
 * One delivery as the worker handles it after a 200 from the receiver: load, then record the attempt. The loaded
 * facts must be those of the change just made (the payload the worker would build from them is then exact).
 */
async function deliver(connection, tally, id, agent) {
  const [[row]] = await connection.execute(SQL.load(1), [id]);
  if (row && Number(row.newer_change) === 1) await connection.execute(SQL.newerSent(1), [id]);
  if (
    !row ||
    row.state !== 'pending' ||
    Number(row.agent_id) !== agent.id ||
    row.agent_type !== 'local' ||
    row.agent_status !== agent.status ||
    row.event_source !== 'api' ||
    row.agent_name !== agent.name
  ) {
    tally.wrongFacts++;
    return;
  }
  const startedAt = new Date();
  const durationMs = 3;
  const finishedAt = sqlTime(new Date(startedAt.getTime() + durationMs));
  // As DeliveriesRepository.recordAttemptAlone sends a 200's attempt (id, attempt, started_at, duration_ms, status_code,
  // error, snippet, manual_retries, state, last_error, next_attempt_at, delivered_at, finished_at, and the agent and
  // change sequence it loaded).
  const attempt = [
    id,
    row.attempts + 1,
    sqlTime(startedAt),
    durationMs,
    200,
    null,
    'ok',
    row.manual_retries,
    'succeeded',
    null,
    null,
    finishedAt,
    finishedAt,
    Number(row.agent_id),
    Number(row.sequence),
  ];
  await retryDeadlocks(tally, () => connection.execute(SQL.recordAttempt, attempt));
  tally.deliveries++;
}

/** A client of its own, `agents` agents, each with an agent-login and an agent-logout GET event: one delivery a change. */
async function setUp(db, clientId, agents) {
  await db.query(
    `INSERT INTO clients (id, name, agent_event_limit, agent_event_count, signing_secret) VALUES (?, 'SQL ceiling', 1000000, ?, ?)`,
    [clientId, agents * 2, `whsec_${ulid()}`],
  );
  const names = Array.from({ length: agents }, (_, i) => [clientId, 'local', `c${i}*094@ceiling.bench`]);
  await db.query('INSERT INTO agents (client_id, agent_type, extension_name) VALUES ?', [names]);
  const [rows] = await db.query('SELECT id, extension_name FROM agents WHERE client_id = ? ORDER BY id', [clientId]);
  const events = rows.flatMap(({ id }) => [
    [clientId, id, 'agent-login', 'GET', 'http://127.0.0.1:9/ceiling/login'],
    [clientId, id, 'agent-logout', 'GET', 'http://127.0.0.1:9/ceiling/logout'],
  ]);
  await db.query('INSERT INTO agent_events (client_id, agent_id, event_type, method, url) VALUES ?', [events]);
  return rows.map(({ id, extension_name: name }) => ({ id, name, status: 'logged_out' }));
}

async function removeRows(db, clientId) {
  await db.query('DELETE a FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.client_id = ?', [clientId]);
  await db.query('DELETE FROM deliveries WHERE client_id = ?', [clientId]);
  await db.query('DELETE FROM status_changes WHERE client_id = ?', [clientId]);
  await db.query('DELETE FROM clients WHERE id = ?', [clientId]); // agents and agent events by cascade
}

/**
 * Measures the ceiling on an already migrated database: `connections` loops, each on a connection of its own, take
 * an idle agent, toggle its status with `change_agents` and deliver what it returned; `warmupSeconds` not counted.
 * Its rows are deleted at the end unless `keepRows`, so the database is left as it was found.
 */
export async function measureSqlCeiling({
  databaseUrl,
  connections = 64,
  seconds = 15,
  agents = 640,
  warmupSeconds = 1.5,
  clientId = 'bench-ceiling',
  keepRows = false,
}) {
  await serviceStatements();
  const options = { uri: databaseUrl, timezone: 'Z', charset: 'utf8mb4_unicode_ci', enableKeepAlive: true };
  const db = await mysql.createConnection(options);
  const pool = mysql.createPool({ ...options, connectionLimit: connections });
  try {
    const idle = await setUp(db, clientId, agents);
    // notOneDelivery: changes that did not return exactly one delivery; wrongFacts: deliveries not pending when loaded,
    // or whose status change's facts (the payload's source) are not those of the change made.
    const tally = { changes: 0, deliveries: 0, notOneDelivery: 0, wrongFacts: 0, deadlocks: 0 };
    let stop = false;
    const loop = async () => {
      const connection = await pool.getConnection();
      try {
        while (!stop) {
          const agent = idle.shift(); // more agents than loops: one is always idle, and never in two loops at once
          agent.status = agent.status === 'available' ? 'logged_out' : 'available';
          const deliveries = await changeStatus(connection, tally, clientId, agent);
          tally.changes++;
          if (deliveries.length !== 1) tally.notOneDelivery++;
          for (const { id } of deliveries) await deliver(connection, tally, id, agent);
          idle.push(agent);
        }
      } finally {
        connection.release();
      }
    };
    const done = Promise.all(Array.from({ length: connections }, () => loop().finally(() => (stop = true))));
    done.catch(() => undefined); // awaited below; a failed loop stops the others

    const pids = { mysql: serverPids().mysql };
    const snapshot = async () => ({ ...tally, cpu: cpuSnapshot(pids), mysql: await mysqlCounters(db) });
    await sleep(warmupSeconds * 1000);
    const before = await snapshot();
    await sleep(seconds * 1000);
    const after = await snapshot();
    stop = true;
    await done;

    const [[found]] = await db.query(
      `SELECT (SELECT COUNT(*) FROM status_changes WHERE client_id = ?) AS changes,
              (SELECT COUNT(*) FROM deliveries WHERE client_id = ?) AS deliveries,
              (SELECT COUNT(*) FROM deliveries WHERE client_id = ? AND state = 'succeeded') AS succeeded,
              (SELECT COUNT(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.client_id = ?) AS attempts`,
      [clientId, clientId, clientId, clientId],
    );
    const check = { ...Object.fromEntries(Object.entries(found).map(([key, value]) => [key, Number(value)])), made: tally.changes };
    const cpu = cpuSince(before.cpu, after.cpu);
    const deliveries = after.deliveries - before.deliveries;
    const changes = after.changes - before.changes;
    const per = (value) => round2(value / deliveries);
    const mysqlPerDelivery = Object.fromEntries(
      Object.entries(counterDelta(before.mysql, after.mysql)).map(([key, value]) => [key, per(value)]),
    );
    return {
      connections,
      agents,
      batch: 1,
      seconds: cpu.wallSeconds,
      changes,
      deliveries,
      deliveriesPerSecond: round2(deliveries / cpu.wallSeconds),
      changesPerSecond: round2(changes / cpu.wallSeconds),
      statementsPerDelivery: mysqlPerDelivery.Questions ?? null,
      mariadbCpuMsPerDelivery: cpu.cpuSeconds.mysql == null ? null : per(cpu.cpuSeconds.mysql * 1000),
      benchCpuMsPerDelivery: per(cpu.cpuSeconds.bench * 1000),
      mysqlPerDelivery,
      cpuSeconds: cpu.cpuSeconds,
      deadlocksRetried: tally.deadlocks,
      notOneDelivery: tally.notOneDelivery,
      wrongFacts: tally.wrongFacts,
      check,
      ok:
        tally.notOneDelivery === 0 &&
        tally.wrongFacts === 0 &&
        check.changes === check.made &&
        check.deliveries === check.changes &&
        check.succeeded === check.deliveries &&
        check.attempts === check.deliveries,
    };
  } finally {
    await pool.end().catch(() => undefined);
    if (!keepRows) await removeRows(db, clientId).catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}

/**
 * MariaDB's CPU per status change by batch size: `CALL change_agents` as StatusService sends a batch, with `size`
 * changes of distinct agents per call, and size `alone`: `CALL change_agent`, as it sends a change alone; from one
 * connection, `changes` changes per size and round. The API batches the changes that arrive together, so a change
 * alone (a quiet moment) and a change in a batch (a shift change) cost differently.
 */
export async function measureChangeBatches({
  databaseUrl,
  sizes = ['alone', 1, 8, 32],
  changes = 3000,
  rounds = 3,
  agents = 256,
  clientId = 'bench-batches',
}) {
  const db = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z', charset: 'utf8mb4_unicode_ci' });
  const pids = { mysql: serverPids().mysql };
  try {
    const all = await setUp(db, clientId, agents);
    const tally = { deadlocks: 0 };
    const out = [];
    for (const size of sizes) {
      const alone = size === 'alone';
      const n = alone ? 1 : size;
      const calls = Math.ceil(changes / n);
      const samples = [];
      for (let round = 0; round < rounds; round++) {
        const before = cpuSnapshot(pids);
        for (let call = 0; call < calls; call++) {
          const agentsOfCall = all.slice((call * n) % agents, ((call * n) % agents) + n);
          const batch = agentsOfCall.map((agent) => {
            agent.status = agent.status === 'available' ? 'logged_out' : 'available';
            return changeOf(clientId, agent);
          });
          const [[, deliveries]] = alone
            ? await retryDeadlocks(tally, () => db.execute(SQL.changeAgent, aloneParams(batch[0])))
            : await retryDeadlocks(tally, () => db.query(SQL.changeAgents, [JSON.stringify(batch), new Date()]));
          if (deliveries.length !== batch.length)
            throw new Error(`a batch of ${batch.length} changes made ${deliveries.length} deliveries`);
        }
        const cpu = cpuSince(before, cpuSnapshot(pids));
        samples.push({ cpuMs: (cpu.cpuSeconds.mysql * 1000) / (calls * n), wallMs: (cpu.wallSeconds * 1000) / calls });
      }
      const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
      out.push({
        size,
        mariadbCpuMsPerChange: Math.round(median(samples.map((sample) => sample.cpuMs)) * 1000) / 1000,
        msPerCall: round2(median(samples.map((sample) => sample.wallMs))),
      });
    }
    return out;
  } finally {
    await removeRows(db, clientId).catch(() => undefined);
    await db.end();
  }
}
