import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as they arrived on the wire. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (for timeouts and slow receivers). */
  delayMs?: number;
  /** Answer only once this settles (a request the test holds in flight while it acts). */
  release?: Promise<unknown>;
}

/** A real HTTP receiver on loopback: records every request; answers from a script of replies, then 200. */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly replies: Reply[] = [];
  private decide?: (request: ReceivedRequest) => Reply | undefined;
  private readonly server: http.Server;
  private waiters: { count: number; resolve: () => void }[] = [];

  /** `host`: the loopback address to listen on (127.0.0.2 is another host than 127.0.0.1 for the worker). */
  constructor(private readonly host = '127.0.0.1') {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const received: ReceivedRequest = {
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(received);
        const reply = this.decide?.(received) ?? this.replies.shift() ?? { status: 200, body: 'ok' };
        const answer = () => {
          if (response.destroyed) return;
          response.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '');
        };
        if (reply.release) void reply.release.then(answer);
        else if (reply.delayMs) setTimeout(answer, reply.delayMs).unref();
        else answer();
        this.waiters = this.waiters.filter((waiter) => {
          if (this.requests.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  /** Listens on a free port, or on `port` (a receiver coming back where it was). */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, this.host, resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://${this.host}:${this.port}${path}`;
  }

  /** The next requests get these answers, in order. */
  reply(...replies: Reply[]): this {
    this.replies.push(...replies);
    return this;
  }

  /** Each request's answer is decided by `decide` first (it sees the request); undefined leaves it to the script. */
  answer(decide: (request: ReceivedRequest) => Reply | undefined): this {
    this.decide = decide;
    return this;
  }

  /** Resolves once `count` requests have arrived in all; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 15_000): Promise<ReceivedRequest[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`receiver got ${this.requests.length} of ${count} requests in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.requests);
        },
      });
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a truthy value; for state that settles asynchronously (MySQL rows after a worker ran). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(50);
  }
}
