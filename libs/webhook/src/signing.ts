import { createHmac, randomBytes } from 'node:crypto';

// Standard Webhooks (https://www.standardwebhooks.com/) secret format and signature scheme.
const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  // Buffer.from silently skips invalid base64, which would sign with a different key.
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) {
    throw new Error('signing secret must be "whsec_" followed by base64');
  }
  return Buffer.from(encoded, 'base64');
}

/** `v1,` + base64 HMAC-SHA256 of `${id}.${timestamp}.${content}`. */
export function signPayload(secret: string, id: string, timestampSeconds: number, content: string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`timestamp must be whole non-negative seconds, got ${timestampSeconds}`);
  }
  if (id === '') throw new Error('webhook id must not be empty');
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${content}`, 'utf8');
  return `v1,${mac.digest('base64')}`;
}

/**
 * Value of the `webhook-signature` header: one signature per secret, space-separated,
 * so receivers accept either secret while a rotation is in progress.
 */
export function signatureHeader(secrets: string[], id: string, timestampSeconds: number, content: string): string {
  if (secrets.length === 0) throw new Error('at least one signing secret is required');
  return secrets.map((secret) => signPayload(secret, id, timestampSeconds, content)).join(' ');
}
