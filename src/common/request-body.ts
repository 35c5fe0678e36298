import { HttpStatus } from '@nestjs/common';
import { Busboy } from '@fastify/busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseQueryString } from 'node:querystring';
import type { Readable } from 'node:stream';
import { ApiError } from './api-error.js';

/** The largest request body accepted (413 `payload_too_large` above it). */
export const MAX_BODY_BYTES = 16 * 1024;
/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 32;
/** Names that are not fields but `Object.prototype`'s members: a body or query naming one is refused like any unknown field. */
export const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** The form endpoint's limits (RFC 6749's token request has a handful of short fields). */
const FORM_LIMITS = { bytes: 4096, fields: 16, fieldBytes: 1024 };

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** `application/*+json`, whatever its parameters (`; charset=utf-8`): Fastify matches a RegExp on the media type. */
const STRUCTURED_JSON = /^application\/[a-z0-9!#$&^_.-]+\+json$/i;

/** `application/json` and `application/*+json`, whatever their parameters (`; charset=utf-8`). */
export function isJsonContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || STRUCTURED_JSON.test(type);
}

/** Whether a request comes with a body: a length above 0, or chunks. */
function hasBody(request: FastifyRequest): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}

/** JSON is UTF-8 (RFC 8259): a body declared in another charset is 415. */
function refuseOtherCharsets(contentType: string | undefined): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      'unsupported_media_type',
      `The request body must be JSON in UTF-8, not ${charset.toUpperCase()}.`,
    );
  }
}

const tooLarge = () => new ApiError(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', 'The request body is too large.');

/** Throws, without parsing, when a JSON text nests arrays and objects deeper than MAX_JSON_DEPTH. */
function refuseDeepJson(body: Buffer): void {
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
      if (++depth > MAX_JSON_DEPTH) throw ApiError.validation(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
}

/** A JSON body: an object naming no `Object.prototype` member, at most MAX_JSON_DEPTH deep; an empty one is `{}`. */
export function parseJsonBody(body: Buffer): Record<string, unknown> {
  refuseDeepJson(body);
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(HttpStatus.BAD_REQUEST, 'malformed_json', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw ApiError.validation('The request body must be a JSON object.');
  }
  const named = Object.keys(parsed).find((key) => PROTOTYPE_NAMES.has(key));
  if (named !== undefined) throw ApiError.validation(`property ${named} should not exist`);
  return parsed as Record<string, unknown>;
}

/** A form-urlencoded body of at most FORM_LIMITS.fields fields; a name given twice has an array of its values. */
export function parseFormBody(body: string): Record<string, unknown> {
  if (body === '') return {};
  if (body.split('&').length > FORM_LIMITS.fields) throw tooLarge();
  return { ...parseQueryString(body, '&', '=', { maxKeys: FORM_LIMITS.fields }) };
}

/** A multipart/form-data body's fields (no file: a form endpoint takes none); a name given twice has an array. */
function parseMultipartBody(request: FastifyRequest, payload: Readable): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const fields: Record<string, unknown> = {};
    let failure: ApiError | undefined;
    const fail = (error: ApiError) => {
      failure ??= error;
    };
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({
        headers: request.headers as { 'content-type': string },
        limits: { fields: FORM_LIMITS.fields, fieldSize: FORM_LIMITS.fieldBytes, parts: FORM_LIMITS.fields, files: 0 },
      });
    } catch {
      reject(new ApiError(HttpStatus.BAD_REQUEST, 'bad_request', 'The multipart body could not be read (no boundary).'));
      return;
    }
    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (valueTruncated) return fail(tooLarge());
      const known = fields[name];
      fields[name] = known === undefined ? value : [...(Array.isArray(known) ? known : [known]), value];
    });
    parser.on('file', (_name, stream) => {
      stream.resume();
      fail(new ApiError(HttpStatus.BAD_REQUEST, 'bad_request', 'This endpoint takes no files.'));
    });
    parser.on('filesLimit', () => fail(new ApiError(HttpStatus.BAD_REQUEST, 'bad_request', 'This endpoint takes no files.')));
    parser.on('partsLimit', () => fail(tooLarge()));
    parser.on('fieldsLimit', () => fail(tooLarge()));
    parser.on('error', () => fail(new ApiError(HttpStatus.BAD_REQUEST, 'bad_request', 'The multipart body could not be read.')));
    parser.on('finish', () => (failure ? reject(failure) : resolve(fields)));
    payload.on('error', (error) => reject(error));
    payload.pipe(parser);
  });
}

/** A body of at most `limit` bytes, as UTF-8 text (413 above it). */
async function readText(payload: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of payload) {
    bytes += (chunk as Buffer).length;
    if (bytes > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a body it does not parse to its end, so the connection can take the next request. */
function discard(payload: Readable): Promise<undefined> {
  return new Promise((resolve, reject) => {
    payload.on('error', reject);
    payload.on('end', () => resolve(undefined));
    payload.resume();
  });
}

/**
 * The API reads JSON and nothing else: on an existing route, a PUT/POST/PATCH with a body that is not JSON is 415
 * (`formPaths`, the OAuth2 token endpoint, also take form-urlencoded and multipart bodies); a JSON body is at most
 * MAX_BODY_BYTES, MAX_JSON_DEPTH deep, an object, and names no `Object.prototype` member. An empty body is always
 * fine (bodiless POSTs, and clients that send `Content-Type: application/json` on GET and DELETE). Fastify runs
 * the parsers for a path no route has too: there the body is let go unread, and the answer is the 404.
 */
export function requestBodies(server: FastifyInstance, formPaths: string[]): void {
  const isFormPath = (request: FastifyRequest) => formPaths.includes((request.url.split('?')[0] ?? '').replace(/\/+$/, ''));
  /** A body that is not JSON: 415 on a route that reads one, unless it is empty or the route is a form endpoint. */
  const refuseNonJson = (request: FastifyRequest) => {
    if (isFormPath(request) || request.is404 || !hasBody(request)) return;
    if (METHODS_WITH_BODY.has(request.method)) {
      throw new ApiError(
        HttpStatus.UNSUPPORTED_MEDIA_TYPE,
        'unsupported_media_type',
        'The request body must be JSON (Content-Type: application/json).',
      );
    }
  };
  server.removeAllContentTypeParsers();
  for (const type of ['application/json', STRUCTURED_JSON]) {
    server.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
      try {
        // A path no route has is a 404 whatever its body.
        if (request.is404) return done(null, undefined);
        refuseOtherCharsets(request.headers['content-type']);
        done(null, parseJsonBody(body as Buffer));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
  }
  server.addContentTypeParser('application/x-www-form-urlencoded', async (request: FastifyRequest, payload: Readable) => {
    refuseNonJson(request);
    return isFormPath(request) && !request.is404 ? parseFormBody(await readText(payload, FORM_LIMITS.bytes)) : discard(payload);
  });
  server.addContentTypeParser('multipart/form-data', async (request: FastifyRequest, payload: Readable) => {
    refuseNonJson(request);
    return isFormPath(request) && !request.is404 ? parseMultipartBody(request, payload) : discard(payload);
  });
  server.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    refuseNonJson(request);
    return discard(payload);
  });
}
