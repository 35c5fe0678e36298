// Status changes driven through the API (PUT status, alternating login/logout over many agents), matched to
// the webhooks the receiver got by (agent_id, Agent-Event-Sequence), and checked one by one.
import { summarize, rate } from './stats.mjs';
import { DEFAULT_PATHS } from './setup.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class StatusDriver {
  /**
   * agents: [{ id, ext }] each with an agent-login GET event on /hook/login and an agent-logout one on /hook/logout,
   * all starting logged out with sequence 0 (`paths`: the receiver paths of the two events, as setupTenant made them).
   */
  constructor({ api, clientId, agents, receiver, db, paths = DEFAULT_PATHS }) {
    this.api = api;
    this.paths = paths;
    this.clientId = clientId;
    this.receiver = receiver;
    this.db = db;
    this.agents = agents.map((agent) => ({ ...agent, status: 'logged_out', seq: 0 }));
    this.idle = [...this.agents];
    this.agentById = new Map(this.agents.map((agent) => [agent.id, agent]));
    this.expected = new Map(); // "agentId:seq" → { phase, status, sent, accepted, agent }
    this.uncertain = new Set(); // changes whose PUT failed or timed out: a webhook for them is allowed, not required
    // Changes whose delivery MySQL says was superseded (src/delivery-worker/ordering.ts): a newer change of the agent
    // took its place at the URL, so no webhook is due; one that arrives anyway is a failure (see settle, verify).
    this.superseded = new Set();
    this.receipts = new Map(); // "agentId:seq" → [arrival]
    this.processed = 0;
    this.phases = new Map();
    this.putErrors = [];
  }

  phase(name) {
    if (!this.phases.has(name)) this.phases.set(name, { name, keys: [], received: 0, putLatency: [] });
    return this.phases.get(name);
  }

  /** Indexes the receiver's new arrivals. */
  collect() {
    const hooks = this.receiver.hooks;
    for (; this.processed < hooks.length; this.processed++) {
      const arrival = hooks[this.processed];
      const query = arrival.url.slice(arrival.url.indexOf('?') + 1);
      const agentId = new URLSearchParams(query).get('agent_id');
      const key = `${agentId}:${arrival.seq}`;
      const list = this.receipts.get(key);
      if (list) list.push(arrival);
      else {
        this.receipts.set(key, [arrival]);
        const expected = this.expected.get(key);
        if (expected) this.phase(expected.phase).received++;
      }
    }
  }

  /** One real change of one idle agent; the agent goes back to the idle pool afterwards. */
  async change(agent, phaseName) {
    const phase = this.phase(phaseName);
    const status = agent.status === 'available' ? 'logged_out' : 'available';
    const result = await this.api.request('PUT', `/client/${this.clientId}/agent/local/${agent.id}`, { status });
    if (result.status === 200 && result.body?.status === status) {
      agent.seq++;
      agent.status = status;
      const key = `${agent.id}:${agent.seq}`;
      this.expected.set(key, { phase: phaseName, status, sent: result.sent, accepted: result.done, agent });
      phase.keys.push(key);
      phase.putLatency.push(result.done - result.sent);
      if (this.receipts.has(key)) phase.received++;
      return true;
    }
    this.putErrors.push({ phase: phaseName, status: result.status, error: result.error ?? JSON.stringify(result.body)?.slice(0, 200) });
    // Unknown whether it committed: take the agent's state from MySQL and allow (not require) its webhooks.
    const [[row]] = await this.db.query('SELECT agent_status, status_sequence FROM agents WHERE id = ?', [agent.id]);
    for (let seq = agent.seq + 1; seq <= row.status_sequence; seq++) this.uncertain.add(`${agent.id}:${seq}`);
    agent.seq = row.status_sequence;
    agent.status = row.agent_status;
    return false;
  }

  /** Closed loop: `inflight` PUTs always outstanding, for `seconds` (and at most `count` changes). */
  async closedLoop(phaseName, inflight, seconds, count = Infinity) {
    const started = performance.now();
    const end = started + seconds * 1000;
    let sent = 0;
    const lanes = Array.from({ length: inflight }, async () => {
      while (sent < count && performance.now() < end) {
        const agent = this.idle.shift();
        if (!agent) {
          await sleep(1);
          continue;
        }
        sent++;
        await this.change(agent, phaseName);
        this.idle.push(agent);
      }
    });
    await Promise.all(lanes);
    return { started, ended: performance.now(), sent };
  }

  /** Closed loop for exactly `count` changes (bounded by `maxSeconds`). */
  closedLoopCount(phaseName, inflight, count, maxSeconds = 120) {
    return this.closedLoop(phaseName, inflight, maxSeconds, count);
  }

  /** First-arrival times of the phase's webhooks, sorted. */
  arrivalTimes(phaseName) {
    this.collect();
    const times = [];
    for (const key of this.phase(phaseName).keys) {
      const first = this.receipts.get(key)?.[0];
      if (first) times.push(first.t);
    }
    return times.sort((a, b) => a - b);
  }

  /** The phase's changes that have their webhook: agent, sequence, PUT answered (accepted) and first arrival times. */
  samples(phaseName) {
    this.collect();
    const out = [];
    for (const key of this.phase(phaseName).keys) {
      const first = this.receipts.get(key)?.[0];
      if (!first) continue;
      const expected = this.expected.get(key);
      out.push({ key, agentId: expected.agent.id, seq: Number(first.seq), accepted: expected.accepted, arrival: first.t });
    }
    return out;
  }

  /**
   * One agent's changes, one every `intervalMs` (a slow PUT delays the next; missed ticks are not made up), until
   * `count` changes, `stop()` says so, or `maxMs`.
   */
  async paced(phaseName, agent, { intervalMs, count = Infinity, stop = () => false, maxMs }) {
    const started = performance.now();
    let next = started;
    let sent = 0;
    while (sent < count && !stop() && performance.now() - started < maxMs) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (stop()) break;
      sent++;
      await this.change(agent, phaseName);
      next = Math.max(next + intervalMs, performance.now());
    }
    return { started, ended: performance.now(), sent };
  }

  /** Open loop: changes started at `ratePerSecond` on a fixed schedule, whatever the answers take (bounded in flight). */
  async openLoop(phaseName, ratePerSecond, seconds, maxInflight = 1000) {
    const total = Math.round(ratePerSecond * seconds);
    const started = performance.now();
    let sent = 0;
    let inflight = 0;
    let maxLagMs = 0;
    const running = new Set();
    while (sent < total) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) / 1000) * ratePerSecond) + 1);
      while (sent < due && inflight < maxInflight && this.idle.length) {
        const scheduled = started + (sent / ratePerSecond) * 1000;
        maxLagMs = Math.max(maxLagMs, now - scheduled);
        const agent = this.idle.shift();
        sent++;
        inflight++;
        const done = this.change(agent, phaseName).finally(() => {
          inflight--;
          this.idle.push(agent);
          running.delete(done);
        });
        running.add(done);
      }
      if (performance.now() - started > seconds * 1000 + 30_000) break; // bounded even if the API stalls
      await sleep(1);
    }
    const ended = performance.now();
    await Promise.all(running);
    return { started, ended, sent, target: total, maxScheduleLagMs: Math.round(maxLagMs) };
  }

  /** Waits until every change of the phase has its webhook, or `timeoutMs`. */
  async drain(phaseName, timeoutMs) {
    const phase = this.phase(phaseName);
    const until = performance.now() + timeoutMs;
    for (;;) {
      this.collect();
      if (phase.received >= phase.keys.length || performance.now() > until) break;
      await sleep(25);
    }
    const drained = performance.now();
    await sleep(300); // duplicates arriving late
    this.collect();
    return drained;
  }

  /**
   * Like drain, for the phases that account for superseded deliveries (ordering.ts: an older change's webhook whose
   * place a newer one took is never sent): waits until every change of the phase has its webhook, or until the
   * driver's client has no pending delivery left (MySQL, looked at twice a second), or `timeoutMs`; then reads which
   * of the client's deliveries were superseded, which `verify` excuses. Returns when it stopped waiting.
   */
  async settle(phaseName, timeoutMs) {
    const phase = this.phase(phaseName);
    const until = performance.now() + timeoutMs;
    let nextLook = 0;
    for (;;) {
      this.collect();
      if (phase.received >= phase.keys.length || performance.now() > until) break;
      if (performance.now() >= nextLook) {
        nextLook = performance.now() + 500;
        const [[row]] = await this.db.query(`SELECT COUNT(*) AS pending FROM deliveries WHERE client_id = ? AND state = 'pending'`, [
          this.clientId,
        ]);
        // The receiver records a webhook before it answers, and the worker records the attempt after the answer: with
        // nothing pending, every webhook sent has been recorded here.
        if (Number(row.pending) === 0) break;
      }
      await sleep(25);
    }
    const drained = performance.now();
    await sleep(300); // duplicates arriving late
    this.collect();
    const [rows] = await this.db.query(
      `SELECT s.agent_id, s.sequence FROM deliveries d JOIN status_changes s ON s.id = d.status_change_id
        WHERE d.client_id = ? AND d.state = 'superseded'`,
      [this.clientId],
    );
    for (const row of rows) this.superseded.add(`${row.agent_id}:${row.sequence}`);
    return drained;
  }

  /** Every figure checks itself: counts, duplicates, payloads; and the latencies of the phase. */
  verify(phaseName) {
    this.collect();
    const phase = this.phase(phaseName);
    const latencies = [];
    let received = 0;
    let duplicateSameId = 0;
    let extraDeliveries = 0;
    let wrongPayload = 0;
    let negative = 0;
    let superseded = 0;
    let supersededReceived = 0;
    const samples = [];
    for (const key of phase.keys) {
      const expected = this.expected.get(key);
      const list = this.receipts.get(key);
      if (!list) {
        if (this.superseded.has(key)) superseded++;
        continue;
      }
      if (this.superseded.has(key)) supersededReceived++;
      received++;
      const latency = list[0].t - expected.accepted;
      if (latency < 0) negative++;
      latencies.push(Math.max(0, latency));
      const ids = new Set(list.map((arrival) => arrival.id));
      duplicateSameId += list.length - ids.size;
      extraDeliveries += ids.size - 1;
      for (const arrival of list) {
        const problem = checkPayload(arrival, expected, this.paths);
        if (problem) {
          wrongPayload++;
          if (samples.length < 5) samples.push({ key, problem, url: arrival.url });
        }
      }
    }
    const missing = phase.keys.length - received - superseded;
    return {
      expected: phase.keys.length,
      received,
      missing,
      superseded,
      supersededReceived,
      duplicates: duplicateSameId,
      extraDeliveries,
      wrongPayload,
      wrongPayloadSamples: samples,
      acceptedAfterArrival: negative,
      putErrors: this.putErrors.filter((error) => error.phase === phaseName).length,
      ok: missing === 0 && duplicateSameId === 0 && extraDeliveries === 0 && wrongPayload === 0 && supersededReceived === 0,
      latency: summarize(latencies),
      putLatency: summarize(phase.putLatency),
    };
  }

  /**
   * The change → receipt (first arrival) and PUT latencies of several phases taken together: one figure for runs of the
   * same load made at different times (see pairedFixed in bench/run.mjs).
   */
  pooledLatency(phaseNames) {
    this.collect();
    const latencies = [];
    const putLatencies = [];
    for (const name of phaseNames) {
      const phase = this.phase(name);
      putLatencies.push(...phase.putLatency);
      for (const key of phase.keys) {
        const list = this.receipts.get(key);
        if (list) latencies.push(Math.max(0, list[0].t - this.expected.get(key).accepted));
      }
    }
    return { latency: summarize(latencies), putLatency: summarize(putLatencies) };
  }

  /** Webhooks that match no change made through the API (and no uncertain one), over the whole run. */
  unexpected() {
    this.collect();
    let count = 0;
    for (const [key, list] of this.receipts) if (!this.expected.has(key) && !this.uncertain.has(key)) count += list.length;
    return count;
  }

  /** Arrivals of webhooks of `phaseName` within [from, to] (performance.now() times), and PUTs accepted then. */
  windowRates(phaseName, from, to) {
    const phase = this.phase(phaseName);
    let arrivals = 0;
    let accepted = 0;
    for (const key of phase.keys) {
      const expected = this.expected.get(key);
      if (expected.accepted >= from && expected.accepted <= to) accepted++;
      const first = this.receipts.get(key)?.[0];
      if (first && first.t >= from && first.t <= to) arrivals++;
    }
    const seconds = (to - from) / 1000;
    return {
      seconds: Math.round(seconds * 100) / 100,
      deliveriesPerSecond: rate(arrivals, seconds),
      acceptedPerSecond: rate(accepted, seconds),
    };
  }
}

function checkPayload(arrival, expected, paths) {
  if (arrival.method !== 'GET') return `method ${arrival.method}`;
  const path = arrival.url.slice(0, arrival.url.indexOf('?'));
  const wantPath = expected.status === 'available' ? paths.login : paths.logout;
  if (path !== wantPath) return `path ${path}, expected ${wantPath}`;
  const got = [...new URLSearchParams(arrival.url.slice(arrival.url.indexOf('?') + 1))];
  const want = [
    ['agent_status', expected.status],
    ['agent_type', 'local'],
    ['event_source', 'api'],
    ['agent_id', String(expected.agent.id)],
    ['extension_name', expected.agent.ext],
  ];
  if (JSON.stringify(got) !== JSON.stringify(want)) return `payload ${JSON.stringify(got)}`;
  if (!arrival.id?.startsWith('msg_')) return `webhook-id ${arrival.id}`;
  if (!arrival.signed) return 'no v1 webhook-signature';
  return null;
}
