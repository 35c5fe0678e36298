import { Webhook } from 'standardwebhooks';
import type { ReceivedRequest } from './receiver.js';
import { admin, type TestApp } from './test-app.js';

/** The client's current signing secret, as `GET /client/{client_id}/signing-secret/` shows it. */
export async function signingSecretOf(t: TestApp, clientId: string): Promise<string> {
  return (await t.http().get(`/client/${clientId}/signing-secret/`).set(admin).expect(200)).body.signing_secret as string;
}

/** Whether the published Standard Webhooks verifier accepts the request as signed with `secret`. */
export function verifies(secret: string, request: ReceivedRequest): boolean {
  // A GET signs the parameters it appended to the URL's own query: the payload always starts with agent_status.
  const content = request.method === 'GET' ? request.url.slice(request.url.indexOf('agent_status=')) : request.body;
  try {
    new Webhook(secret).verify(content, request.headers as Record<string, string>, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}
