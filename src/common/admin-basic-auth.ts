import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** True when the request carries basic auth with user `admin` and the admin token as password. */
export function isAdminBasicAuth(authorization: string | undefined, adminToken: string): boolean {
  const [scheme, encoded] = (authorization ?? '').split(' ');
  const given = scheme?.toLowerCase() === 'basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  return Boolean(given) && timingSafeEqual(digest(given), digest(`admin:${adminToken}`));
}

/** Basic auth for the operator's pages (Bull Board, /metrics): user `admin`, password the admin token. */
export function adminBasicAuth(adminToken: string, what: string) {
  return (request: IncomingMessage, response: ServerResponse, next: () => void) => {
    if (isAdminBasicAuth(request.headers.authorization, adminToken)) return next();
    response.statusCode = 401;
    response.setHeader('WWW-Authenticate', `Basic realm="agent-events", charset="UTF-8"`);
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.end(JSON.stringify({ message: `${what} needs user admin and the admin token as password.`, status: 'invalid_token' }));
  };
}
