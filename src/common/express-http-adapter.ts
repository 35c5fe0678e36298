import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Application } from 'express';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type RequestConstructor = (this: IncomingMessage, socket: Socket) => void;
type ResponseConstructor = (this: ServerResponse, request: IncomingMessage, options?: object) => void;

/** Node's request and response constructors are plain functions (not classes), so a function may run them on `this`. */
const plainConstructors = [IncomingMessage, ServerResponse].every((type) => !/^class\b/.test(Function.prototype.toString.call(type)));

/**
 * Nest's Express adapter, with one change in how the HTTP server makes each request and response: with the Express
 * app's prototypes from the start. Express 5 gives every request and response its app's prototype with
 * `Object.setPrototypeOf`; on V8 that change of shape makes the request's objects outlive young-generation
 * collections, so they fill the old generation and bring a full collection every few seconds, each a stall of the
 * answers in flight. With the prototype already in place, Express's `setPrototypeOf` changes nothing.
 */
export class ExpressHttpAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (options.httpsOptions || options.forceCloseConnections || options.return503OnClosing || !plainConstructors) {
      super.initHttpServer(options);
      return;
    }
    // The prototypes Express gives its requests and responses (`app.request`, `app.response`).
    const app = this.getInstance<Application & { request: object; response: object }>();
    const Request = function (this: IncomingMessage, socket: Socket) {
      (IncomingMessage as unknown as RequestConstructor).call(this, socket);
    };
    Request.prototype = app.request;
    const Response = function (this: ServerResponse, request: IncomingMessage, responseOptions?: object) {
      (ServerResponse as unknown as ResponseConstructor).call(this, request, responseOptions);
    };
    Response.prototype = app.response;
    this.httpServer = createServer(
      { IncomingMessage: Request as unknown as typeof IncomingMessage, ServerResponse: Response as unknown as typeof ServerResponse },
      app,
    );
  }
}
