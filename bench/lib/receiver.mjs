// The bench's own webhook receiver: a plain node:http server with keep-alive, in the bench's main process so its
// clock is the one the status changes were accepted on. It answers 200 at once and records every arrival.
import http from 'node:http';

export class Receiver {
  /** Arrivals of the service's webhooks (`/hook/...`), the floor's (`/floor`) and anything else. */
  hooks = [];
  floor = [];
  other = [];

  constructor() {
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
      if (request.url.startsWith('/hook/')) this.hooks.push(entry);
      else if (request.url.startsWith('/floor')) this.floor.push(entry);
      else this.other.push(entry);
      request.resume();
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      response.end('ok');
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 65_000;
    this.server.maxRequestsPerSocket = 0;
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }

  url(path) {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
