import { HttpStatus } from '@nestjs/common';
import { ApiError } from '../common/api-error.js';
import { safeEqual } from './safe-equal.js';

export interface TokenRequest {
  clientId: string;
  clientSecret: string;
}

const invalidRequest = (message: string) => new ApiError(HttpStatus.BAD_REQUEST, 'invalid_request', message);
export const invalidClient = () => new ApiError(HttpStatus.UNAUTHORIZED, 'invalid_client', 'Unknown client_id or wrong client_secret.');

/** A parameter given once as a string; empty counts as left out (RFC 6749 3.2). Other parameters are ignored (RFC 6749 3.2). */
function parameter(body: Record<string, unknown>, name: string): string | undefined {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidRequest(`${name} must be given once, as a string.`);
  return value;
}

/** `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 2.3.1), or null when not Basic. */
function basicCredentials(authorization: string | undefined): TokenRequest | null {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]*)\s*$/i.exec(authorization ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidClient();
  try {
    const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw invalidClient();
  }
}

/** The client credentials grant of a token request, from a form, multipart or JSON body and/or HTTP Basic. */
export function readTokenRequest(rawBody: unknown, authorization: string | undefined): TokenRequest {
  const body = rawBody !== null && typeof rawBody === 'object' && !Array.isArray(rawBody) ? (rawBody as Record<string, unknown>) : {};
  const grantType = parameter(body, 'grant_type');
  if (grantType === undefined) throw invalidRequest('grant_type is required: client_credentials.');
  if (grantType !== 'client_credentials') {
    throw new ApiError(HttpStatus.BAD_REQUEST, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
  }
  const inBody = { clientId: parameter(body, 'client_id'), clientSecret: parameter(body, 'client_secret') };
  const basic = basicCredentials(authorization);
  if (basic) {
    // Sending the credentials twice is allowed only when both say the same (RFC 6749 2.3 wants one method).
    const sameId = inBody.clientId === undefined || inBody.clientId === basic.clientId;
    const sameSecret = inBody.clientSecret === undefined || safeEqual(inBody.clientSecret, basic.clientSecret);
    if (!sameId || !sameSecret) {
      throw invalidRequest('The credentials in the body and in HTTP Basic differ.');
    }
    return basic;
  }
  if (inBody.clientId === undefined || inBody.clientSecret === undefined) {
    throw invalidRequest('client_id and client_secret are required, in the body or in HTTP Basic.');
  }
  return { clientId: inBody.clientId, clientSecret: inBody.clientSecret };
}
