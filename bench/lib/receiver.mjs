// The bench's own webhook receiver: a plain node:http server with keep-alive, in the bench's main process so its
// clock is the one the status changes were accepted on. It answers 200 at once and records every arrival.
import http from 'node:http';

export class Receiver {
  /** Arrivals of the service's webhooks (`/hook/...`) it answered 200 (accepted), the floor's (`/floor`) and anything else. */
  hooks = [];
  floor = [];
  other = [];
  /** Webhooks it refused (`reject` gave a status): kept apart, so `hooks` holds only what the receiver accepted. */
  rejected = [];
  /** Webhook requests so far, refused ones included. */
  hookRequests = 0;

  /**
   * host: the loopback address to listen on (receiver isolation is per host name: a second receiver on 127.0.0.2 is
   * another receiver machine to the worker). reject(entry, n): the status to answer the n-th webhook request with
   * instead of 200, or null to accept it.
   */
  constructor({ host = '127.0.0.1', reject = null } = {}) {
    this.host = host;
    this.reject = reject;
    this.server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 30_000 }, (request, response) => {
      const t = performance.now();
      const entry = {
        t,
        method: request.method,
        url: request.url,
        id: request.headers['webhook-id'],
        seq: request.headers['agent-event-sequence'],
        signed: typeof request.headers['webhook-signature'] === 'string' && request.headers['webhook-signature'].startsWith('v1,'),
      };
      let status = 200;
      if (request.url.startsWith('/hook/')) {
        this.hookRequests++;
        status = this.reject?.(entry, this.hookRequests) ?? 200;
        if (status === 200) this.hooks.push(entry);
        else this.rejected.push({ ...entry, status });
      } else if (request.url.startsWith('/floor')) this.floor.push(entry);
      else this.other.push(entry);
      request.resume();
      const body = status === 200 ? 'ok' : 'no';
      response.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      response.end(body);
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 65_000;
    this.server.maxRequestsPerSocket = 0;
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.host, resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  url(path) {
    return `http://${this.host}:${this.port}${path}`;
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
