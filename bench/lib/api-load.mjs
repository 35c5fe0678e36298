// The API alone, driven by autocannon (npm): GET the agent-event list, POST an agent event, GET the delivery log.
//
// Two notes on autocannon 9 that shape this file:
// - Its rate limit is a per-second quota per connection: with `overallRate` every connection sends its share of
//   the second back to back, then waits for the next second. 1,000 req/s over 32 connections is a burst at
//   concurrency 32 every second, not a steady 1,000 req/s. The steady figure therefore runs many one-connection
//   autocannon instances, each with a small `connectionRate`, started evenly spread over one second.
// - With a rate set, its latency histogram adds coordinated-omission samples at an expected interval of
//   Math.ceil(1 / rate) = 1 ms whatever the rate, which skews the percentiles. Latencies here are the raw
//   response times of every request (autocannon's 'response' event), summarised by us.
import autocannon from 'autocannon';
import { summarize } from './stats.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function run(options, latencies) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

function figures(results, latencies, seconds, extra = {}) {
  const sum = (key) => results.reduce((total, result) => total + result[key], 0);
  const ok = sum('2xx');
  const latency = summarize(latencies);
  return {
    requests: results.reduce((total, result) => total + result.requests.total, 0),
    ok2xx: ok,
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    seconds,
    requestsPerSecond: Math.round((ok / seconds) * 10) / 10,
    latencyMs: { p50: latency.p50, p95: latency.p95, p99: latency.p99, max: latency.max, mean: latency.mean },
    ...extra,
  };
}

function listRequest(clientId, agentIds, state) {
  return {
    method: 'GET',
    setupRequest: (request) => ({ ...request, path: `/client/${clientId}/agent/local/${agentIds[state.next++ % agentIds.length]}/event/` }),
    onResponse: (status, body) => {
      if (status !== 200) return;
      try {
        const list = JSON.parse(body);
        if (!Array.isArray(list) || list.length !== 2 || !list.every((event) => event.url && event.method === 'GET')) state.wrongBody++;
      } catch {
        state.wrongBody++;
      }
    },
  };
}

/**
 * GET /client/{id}/agent/local/{agent_id}/event/ across the driven agents; each answer must list the agent's two
 * events. `mode`: 'steady' (lanes one-connection instances spread over a second), 'bursts' (autocannon's own
 * overallRate over `connections`), 'max' (unthrottled over `connections`).
 */
export async function listEvents({ base, token, clientId, agentIds, seconds, rate, mode, connections = 32, lanes = 100 }) {
  const state = { next: Math.floor(Math.random() * agentIds.length), wrongBody: 0 };
  const latencies = [];
  const common = {
    url: base,
    headers: { authorization: `Bearer ${token}` },
    duration: seconds,
    requests: [listRequest(clientId, agentIds, state)],
  };
  let results;
  if (mode === 'steady') {
    const runs = [];
    for (let lane = 0; lane < lanes; lane++) {
      runs.push(run({ ...common, connections: 1, connectionRate: Math.round(rate / lanes) }, latencies));
      await sleep(1000 / lanes);
    }
    results = await Promise.all(runs);
  } else {
    results = [await run({ ...common, connections, ...(mode === 'bursts' ? { overallRate: rate } : {}) }, latencies)];
  }
  const out = figures(results, latencies, seconds, {
    mode,
    offeredRate: mode === 'max' ? null : mode === 'steady' ? Math.round(rate / lanes) * lanes : rate,
    connections: mode === 'steady' ? lanes : connections,
    wrongBody: state.wrongBody,
  });
  out.ok = out.non2xx === 0 && out.errors === 0 && out.timeouts === 0 && state.wrongBody === 0;
  return out;
}

/** POST /client/{id}/agent/local/{agent_id}/event/ on agents that are never driven (so no webhooks follow). */
export async function postEvents({ base, token, clientId, agentIds, seconds, connections = 16, targetUrl }) {
  let next = 0;
  const latencies = [];
  const result = await run(
    {
      url: base,
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            const n = next++;
            return {
              ...request,
              path: `/client/${clientId}/agent/local/${agentIds[n % agentIds.length]}/event/`,
              body: JSON.stringify({ url: `${targetUrl}?n=${n}`, event_type: n % 2 ? 'agent-logout' : 'agent-login', method: 'GET' }),
            };
          },
        },
      ],
    },
    latencies,
  );
  const out = figures([result], latencies, seconds, { connections });
  out.ok = out.non2xx === 0 && out.errors === 0 && out.timeouts === 0;
  return out;
}

/** GET /client/{id}/delivery/ (the delivery log, first page): no target in the issue; shown to watch growth. */
export async function deliveryLog({ base, token, clientId, seconds, connections = 16 }) {
  const latencies = [];
  const result = await run(
    {
      url: `${base}/client/${clientId}/delivery/?per_page=20`,
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${token}` },
    },
    latencies,
  );
  const out = figures([result], latencies, seconds, { connections });
  out.ok = out.non2xx === 0 && out.errors === 0 && out.timeouts === 0;
  return out;
}
