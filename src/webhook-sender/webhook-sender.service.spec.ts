import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadConfig } from '../config/configuration.js';
import { TargetPolicyService } from '../target-policy/target-policy.service.js';
import { WebhookSenderService } from './webhook-sender.service.js';

type SocketWithHandle = Socket & { _handle: { setKeepAlive: (enable: boolean, delaySeconds: number) => number } };

describe('WebhookSenderService', () => {
  let server: http.Server;
  let sender: WebhookSenderService;
  const arrivals: { port: number; url: string; headers: string[] }[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      arrivals.push({ port: request.socket.remotePort ?? 0, url: request.url ?? '', headers: request.rawHeaders });
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = loadConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' });
    sender = new WebhookSenderService(new HttpService(axios.create()), new TargetPolicyService(config), config);
  });

  afterAll(async () => {
    sender.onApplicationShutdown();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (n: number, method: 'GET' | 'POST' = 'GET') =>
    sender.send({
      id: `msg_${n}`,
      method,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?n=${n}`,
      payload: { agent_status: 'available' },
      secrets: ['whsec_c2VjcmV0'],
      sequence: n,
      changedAt: new Date(),
    });

  it('sends webhooks to one receiver over one kept-alive connection, setting TCP keep-alive on it only once', async () => {
    expect((await send(1)).statusCode).toBe(200);
    const agent = (sender as unknown as { httpAgent: http.Agent }).httpAgent;
    const [socket] = Object.values(agent.freeSockets).flat() as SocketWithHandle[];
    // Each setting that reaches the socket's handle is four setsockopt system calls.
    const settings: number[] = [];
    const setKeepAlive = socket._handle.setKeepAlive.bind(socket._handle);
    socket._handle.setKeepAlive = (enable, delaySeconds) => {
      settings.push(delaySeconds);
      return setKeepAlive(enable, delaySeconds);
    };

    for (let n = 2; n <= 6; n++) expect((await send(n)).statusCode).toBe(200);

    expect(arrivals.map(({ url }) => url)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `/hook?n=${n}&agent_status=available`));
    expect(new Set(arrivals.map(({ port }) => port)).size).toBe(1);
    expect(settings).toEqual([]);
  });

  it('sends the headers receivers have always had, and nothing else', async () => {
    arrivals.length = 0;
    expect((await send(7)).statusCode).toBe(200);
    expect((await send(8, 'POST')).statusCode).toBe(200);
    const names = (raw: string[]) => raw.filter((_, index) => index % 2 === 0);
    const common = ['User-Agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'Agent-Event-Sequence', 'Agent-Event-Changed-At'];
    expect(names(arrivals[0].headers)).toEqual(['Accept', ...common, 'Accept-Encoding', 'Host', 'Connection']);
    expect(names(arrivals[1].headers)).toEqual([
      'Accept',
      'Content-Type',
      ...common,
      'Accept-Encoding',
      'Content-Length',
      'Host',
      'Connection',
    ]);
    expect(arrivals[0].headers[1]).toBe('application/json, text/plain, */*');
  });
});
