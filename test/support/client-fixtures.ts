import { admin, type TestApp } from './test-app.js';

export interface AppCredentials {
  client_id: string;
  client_secret: string;
}

/** The admin creates an application for a client; its id and secret, as shown once. */
export async function createApplication(t: TestApp, clientId: string, name = 'integration'): Promise<AppCredentials> {
  const response = await t.http().post(`/client/${clientId}/app/`).set(admin).send({ name }).expect(201);
  return { client_id: response.body.client_id as string, client_secret: response.body.client_secret as string };
}

/** A token the way RFC 6749 asks for one: a form-urlencoded body. */
export async function fetchToken(t: TestApp, credentials: AppCredentials): Promise<string> {
  const response = await t
    .http()
    .post('/oauth/token')
    .type('form')
    .send({ grant_type: 'client_credentials', ...credentials })
    .expect(200);
  return response.body.access_token as string;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A client with one application, and a token of it. */
export async function clientWithToken(t: TestApp, clientId: string) {
  await t
    .http()
    .post('/client/')
    .set(admin)
    .send({ id: clientId, name: `Client ${clientId}` })
    .expect(201);
  const credentials = await createApplication(t, clientId);
  const token = await fetchToken(t, credentials);
  return { clientId, credentials, token, auth: bearer(token) };
}
