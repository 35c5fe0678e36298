// A small keep-alive JSON client for set-up and for the status-change drivers (they need per-request timing
// and per-agent sequencing, which a load generator does not give).
import http from 'node:http';

export class Api {
  constructor(base, token) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.auth = `Bearer ${token}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  }

  /** Resolves { status, body, sent, done } (performance.now() times); never rejects (status 0 and error instead). */
  request(method, path, body, timeoutMs = 15_000) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      const sent = performance.now();
      let settled = false;
      const finish = (result) => {
        if (settled) return;
        settled = true;
        resolve({ ...result, sent, done: performance.now() });
      };
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            authorization: this.auth,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (response) => {
          const chunks = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // keep the text
            }
            finish({ status: response.statusCode, body: parsed });
          });
          response.on('error', (error) => finish({ status: 0, error: error.message }));
        },
      );
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      request.on('error', (error) => finish({ status: 0, error: error.message }));
      request.end(payload);
    });
  }

  /** Like request, but throws unless the answer has the expected status. */
  async expect(status, method, path, body) {
    const result = await this.request(method, path, body);
    if (result.status !== status) {
      throw new Error(`${method} ${path} answered ${result.status} ${result.error ?? JSON.stringify(result.body)}, expected ${status}`);
    }
    return result.body;
  }

  close() {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Spreads requests over several APIs in turn, as a balancer would (the bench needs none). */
export class RoundRobinApi {
  constructor(apis) {
    this.apis = apis;
    this.next = 0;
  }

  request(...args) {
    const api = this.apis[this.next];
    this.next = (this.next + 1) % this.apis.length;
    return api.request(...args);
  }

  close() {
    for (const api of this.apis) api.close();
  }
}
