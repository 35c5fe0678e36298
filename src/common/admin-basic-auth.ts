import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The `WWW-Authenticate` challenge of the operator's pages. */
export const ADMIN_REALM = 'Basic realm="agent-events", charset="UTF-8"';

/** True when the request carries basic auth with user `admin` and the admin token as password. */
export function isAdminBasicAuth(authorization: string | undefined, adminToken: string): boolean {
  const [scheme, encoded] = (authorization ?? '').split(' ');
  const given = scheme?.toLowerCase() === 'basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  return Boolean(given) && timingSafeEqual(digest(given), digest(`admin:${adminToken}`));
}

/** The answer (401) to a request to an operator's page without the admin's basic auth. */
export function adminAuthRequired(what: string): { message: string; status: 'invalid_token' } {
  return { message: `${what} needs user admin and the admin token as password.`, status: 'invalid_token' };
}
