import { expect } from '@jest/globals';
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { rawRequest, type RawResponse } from './raw-http.js';

/** Token requests as a client (or an attacker) sends them, and their timing (test/hostile-input-hardening, test/chaos/token-timing). */
export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
export const unknownId = () => randomBytes(12).toString('hex');
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** One token request with a form body, as a client (or an attacker) sends it. */
export function tokenRequest(server: http.Server, clientId: string, clientSecret: string): Promise<RawResponse> {
  return rawRequest(server, {
    method: 'POST',
    path: '/oauth/token',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  });
}

/** How long one request takes, end to end, in ms. */
export async function timed(send: () => Promise<RawResponse>, expectedStatus: number): Promise<number> {
  const started = performance.now();
  const response = await send();
  const elapsed = performance.now() - started;
  expect(response.status).toBe(expectedStatus);
  return elapsed;
}
