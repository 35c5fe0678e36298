import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

export interface RawRequest {
  method: string;
  /** Sent exactly as given, unnormalised (`//client`, `/client/%zz`). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * One request with exactly the given headers and bytes: no Content-Type or Content-Length is added (supertest
 * adds both), so "no Content-Type at all" and odd paths can be sent as a hostile client would.
 */
export async function rawRequest(server: http.Server, request: RawRequest): Promise<RawResponse> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers = { ...(body ? { 'Content-Length': String(body.length) } : {}), ...request.headers };
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { host: '127.0.0.1', port, method: request.method, path: request.path, headers, agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, text, body: parsed });
        });
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** What a plain GET to a URL gives: the status, or the connection error's code. */
export function probe(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
