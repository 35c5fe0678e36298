import { HttpStatus } from '@nestjs/common';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ApiError } from './api-error.js';
import { RouteTable } from './route-table.js';

/** The largest request body accepted (413 `payload_too_large` above it). */
export const MAX_BODY_BYTES = 16 * 1024;
/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 32;
/** Names that are not fields but `Object.prototype`'s members: a body or query naming one is refused like any unknown field. */
export const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** `application/json` and `application/*+json`, whatever their parameters (`; charset=utf-8`). */
export function isJsonContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type);
}

function hasNonEmptyBody(request: Request): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}

/** Throws, without parsing, when a JSON text nests arrays and objects deeper than MAX_JSON_DEPTH. */
function refuseDeepJson(_request: Request, _response: Response, body: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      // A backslash escapes the next byte; a quote ends the string.
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw Object.assign(new Error('too deep'), { status: 400, type: 'entity.too.deep' });
      }
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
}

/**
 * The API reads JSON and nothing else: on an existing route, a PUT/POST/PATCH with a body that is not JSON is
 * 415 (`formPaths`, the OAuth2 token endpoint, also take form bodies and parse those themselves); a JSON body is
 * at most MAX_BODY_BYTES, MAX_JSON_DEPTH deep, an object, and names no `Object.prototype` member. A wrong method
 * on an existing path is 405 with `Allow`. An empty body is always fine (bodiless POSTs, and clients that send
 * `Content-Type: application/json` on GET and DELETE).
 */
export function requestBodies(server: express.Application, formPaths: string[]): RequestHandler {
  const routes = new RouteTable(server);
  const isFormPath = (path: string) => formPaths.includes(path.replace(/\/+$/, ''));
  const parseJson = express.json({
    limit: MAX_BODY_BYTES,
    strict: false,
    type: (request) => isJsonContentType(request.headers['content-type']),
    verify: refuseDeepJson,
  });

  return (request: Request, response: Response, next: NextFunction) => {
    const methods = routes.methodsOf(request.path);
    if (methods.size === 0) return next(); // not an API route: the 404 handler, the docs or the queue board
    if (request.method === 'OPTIONS') {
      response.setHeader('Allow', [...methods].join(', '));
      return response.status(204).end();
    }
    if (!methods.has(request.method)) {
      response.setHeader('Allow', [...methods].join(', '));
      return next(
        new ApiError(
          HttpStatus.METHOD_NOT_ALLOWED,
          'method_not_allowed',
          `${request.method} is not allowed here; use ${[...methods].join(', ')}.`,
        ),
      );
    }
    const notJson = hasNonEmptyBody(request) && !isJsonContentType(request.headers['content-type']);
    if (notJson && isFormPath(request.path)) return next(); // its form and multipart bodies are its own to parse
    if (notJson && METHODS_WITH_BODY.has(request.method)) {
      return next(
        new ApiError(
          HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          'unsupported_media_type',
          'The request body must be JSON (Content-Type: application/json).',
        ),
      );
    }
    parseJson(request, response, (error?: unknown) => {
      if (error) return next(error);
      const body: unknown = request.body;
      if (body === undefined) return next();
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return next(ApiError.validation('The request body must be a JSON object.'));
      }
      const named = Object.keys(body).find((key) => PROTOTYPE_NAMES.has(key));
      if (named !== undefined) return next(ApiError.validation(`property ${named} should not exist`));
      next();
    });
  };
}
