import type { Application } from 'express';
import { IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExpressHttpAdapter } from './express-http-adapter.js';

/** Starts the adapter's server with one route; resolves the prototypes a request and its response had on arrival. */
async function prototypesOnArrival(adapter: ExpressHttpAdapter, options = {}) {
  adapter.initHttpServer(options);
  const app = adapter.getInstance<Application & { request: object; response: object }>();
  app.get('/hello', (request, response) => {
    response.json({ hello: request.query.name });
  });
  const server = adapter.getHttpServer() as Server;
  let arrival: { request: object | null; response: object | null } = { request: null, response: null };
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    arrival = { request: Object.getPrototypeOf(request) as object, response: Object.getPrototypeOf(response) as object };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hello?name=agent`);
    return { app, arrival, status: answer.status, body: (await answer.json()) as unknown };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ExpressHttpAdapter', () => {
  it("makes each request and response with the Express app's prototypes, and Express answers as usual", async () => {
    const { app, arrival, status, body } = await prototypesOnArrival(new ExpressHttpAdapter());
    expect(arrival.request).toBe(app.request);
    expect(arrival.response).toBe(app.response);
    expect(status).toBe(200);
    expect(body).toEqual({ hello: 'agent' });
  });

  it("leaves Nest's own server for the options it handles there (closing connections on shutdown)", async () => {
    const { arrival, status } = await prototypesOnArrival(new ExpressHttpAdapter(), { forceCloseConnections: true });
    expect(arrival.request).toBe(IncomingMessage.prototype);
    expect(arrival.response).toBe(ServerResponse.prototype);
    expect(status).toBe(200);
  });
});
