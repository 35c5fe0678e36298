import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { loadConfig } from '../config/configuration.js';
import { TargetPolicyService } from '../target-policy/target-policy.service.js';
import { CONNECTION_FAILED, WebhookSenderService } from './webhook-sender.service.js';

/** What a real receiver on loopback got and answered, through the sender's own request path (webhook-adapter.ts). */
describe('webhook requests as a receiver gets and answers them', () => {
  let server: http.Server;
  let sender: WebhookSenderService;
  const received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let answer: (request: http.IncomingMessage, response: http.ServerResponse) => void = (_request, response) => response.end('ok');

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        answer(request, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = loadConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_TIMEOUT_MS: '500' });
    sender = new WebhookSenderService(new HttpService(axios.create()), new TargetPolicyService(config), config);
  });

  afterAll(async () => {
    sender.onApplicationShutdown();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = (method: 'GET' | 'POST', url = `${base()}/hook`) =>
    sender.send({
      id: 'msg_adapter',
      method,
      url,
      payload: { agent_status: 'available', agent_id: '7' },
      secrets: ['whsec_c2VjcmV0'],
      sequence: 3,
      changedAt: new Date('2026-12-03T10:00:00.000Z'),
    });

  it('POSTs the form with its length (not chunked) and the signed headers', async () => {
    answer = (_request, response) => response.end('ok');
    const result = await send('POST');
    expect(result).toMatchObject({ statusCode: 200, error: null, responseSnippet: 'ok' });
    const [request] = received;
    expect(request.method).toBe('POST');
    expect(request.body).toBe('agent_status=available&agent_id=7');
    expect(request.headers['content-length']).toBe(String(request.body.length));
    expect(request.headers['transfer-encoding']).toBeUndefined();
    expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request.headers['webhook-id']).toBe('msg_adapter');
    expect(request.headers['webhook-signature']).toMatch(/^v1,/);
    expect(request.headers['agent-event-sequence']).toBe('3');
    expect(request.headers['agent-event-changed-at']).toBe('2026-12-03T10:00:00.000Z');
    expect(request.headers['accept-encoding']).toBe('gzip, deflate, br');
  });

  it('GETs with the payload in the query and no body', async () => {
    answer = (_request, response) => response.end();
    expect(await send('GET')).toMatchObject({ statusCode: 200, error: null, responseSnippet: null });
    expect(received[0]).toMatchObject({ method: 'GET', url: '/hook?agent_status=available&agent_id=7', body: '' });
    expect(received[0].headers['content-length']).toBeUndefined();
  });

  it.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const)('reads an answer compressed with %s as text', async (encoding, compress) => {
    answer = (_request, response) => {
      response.writeHead(503, { 'content-encoding': encoding, 'retry-after': '7' });
      response.end(compress(Buffer.from('busy, try later')));
    };
    expect(await send('GET')).toMatchObject({ statusCode: 503, error: null, retryAfter: '7', responseSnippet: 'busy, try later' });
  });

  it('keeps the first 64 KiB of a large answer and does not follow a redirect', async () => {
    answer = (_request, response) => response.end('x'.repeat(200_000));
    const big = await send('GET');
    expect(big.statusCode).toBe(200);
    expect(big.responseSnippet?.length).toBeLessThanOrEqual(513);
    answer = (_request, response) => {
      response.writeHead(302, { location: `${base()}/elsewhere` });
      response.end();
    };
    expect(await send('GET')).toMatchObject({ statusCode: 302, error: `redirect to ${base()}/elsewhere not followed` });
    expect(received.map((request) => request.url.split('?')[0])).toEqual(['/hook', '/hook']);
  });

  it('gives up on an answer that never ends at the deadline, and on a refused connection at once', async () => {
    answer = (_request, response) => {
      response.writeHead(200);
      response.write('partial');
    };
    const slow = await send('GET');
    expect(slow).toMatchObject({ statusCode: null, error: 'timeout: no complete answer within 500 ms' });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await send('GET', `http://127.0.0.1:${port}/hook`)).toMatchObject({ statusCode: null, error: CONNECTION_FAILED });
  });

  it('gives up on a receiver that takes the request and never answers, at the deadline', async () => {
    answer = () => undefined;
    const started = performance.now();
    expect(await send('POST')).toMatchObject({ statusCode: null, error: 'timeout: no complete answer within 500 ms' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(490);
    expect(received).toHaveLength(1);
  });

  it('leaves no deadline behind once an attempt is over: answered, cut short at 64 KiB, or failed', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timers();
    answer = (_request, response) => response.end('ok');
    expect((await send('GET')).statusCode).toBe(200);
    answer = (_request, response) => response.end('x'.repeat(200_000));
    expect((await send('GET')).statusCode).toBe(200);
    answer = (request, response) => response.destroy();
    expect((await send('GET')).error).toBe(CONNECTION_FAILED);
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers()).toBe(before);
  });
});
