import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { MAX_BODY_BYTES } from './request-body.js';

/** Existing clients of the public API call `{base}/api/ver1.0/...`: every resource answers there too. */
export const API_PREFIX = '/api/ver1.0';

/** A caller's `X-Request-Id` is kept when it is a plain token; anything else (too long, odd characters) is replaced. */
const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** A request as the request line reads it: the URL it came with, before the API prefix was taken off. */
export type ArrivedRequest = IncomingMessage & { originalUrl?: string };

/** The request's id: the caller's `X-Request-Id` when it is a plain token, else a new one. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** `/api/ver1.0/x` is `/x`: the path a request is routed by (the URL it came with stays in `originalUrl`). */
export function withoutApiPrefix(request: ArrivedRequest): string {
  const url = request.url ?? '/';
  request.originalUrl = url;
  if (url === API_PREFIX || url.startsWith(`${API_PREFIX}/`) || url.startsWith(`${API_PREFIX}?`)) {
    return `/${url.slice(API_PREFIX.length).replace(/^\//, '')}`;
  }
  return url;
}

/**
 * The router's options, shared by the server and the table of methods per path (`RouteTable`): a trailing slash and
 * the letters' case make no difference (as the API has always answered), and a path parameter may be up to 8 KiB (a
 * long id is refused by its route with its own 400 or 404; a longer one by the router, 414 `uri_too_long`).
 */
export const ROUTER_OPTIONS = { ignoreTrailingSlash: true, caseSensitive: false, maxParamLength: 8192 };

/**
 * Nest's Fastify platform, as the API serves on it: bodies of at most MAX_BODY_BYTES (`requestBodies` installs the
 * parsers), the `/api/ver1.0` prefix taken off before routing, and the request id (`request.id`) of the request line
 * and of the error filter's lines.
 */
export function createHttpAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: MAX_BODY_BYTES,
    rewriteUrl: withoutApiPrefix,
    genReqId: requestIdOf,
    routerOptions: ROUTER_OPTIONS,
    // The router's own refusals, before any hook or route: a URL it cannot decode (400), a parameter too long (414).
    frameworkErrors: (error: { statusCode?: number }, _request: FastifyRequest, reply: FastifyReply) => {
      const uriTooLong = error.statusCode === 414;
      void reply.code(uriTooLong ? 414 : 400).send({
        message: uriTooLong ? 'The request URL is too long.' : 'The request URL is not valid (broken percent-encoding or characters).',
        status: uriTooLong ? 'uri_too_long' : 'bad_request',
      });
    },
    // Fastify's logger stays off: the request line and every other line are pino's, from LoggingModule.
    logger: false,
    // The API has no Express-style middleware (its hooks are Fastify's, in configureApp), so Nest need not load middie.
    skipMiddie: true,
  });
}
