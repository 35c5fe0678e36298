import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { CHROMIUM_FLAGS, ensureChromium } from './support/chromium.js';
import { freePort, prepareCompiledService, runService, type ServiceProcess } from './support/processes.js';
import { Receiver } from './support/receiver.js';
import { ADMIN_TOKEN, admin, deleteQueueKeys, suiteResources } from './support/test-app.js';

/** Where the run saves its screenshots (git-ignored); the current ones are copied by hand to docs/. */
const SCREENSHOTS = 'test-results/screenshots';

/** What people see, in a real browser: Swagger UI at /docs and Bull Board at /admin/queues on the compiled service. */
describe('in a browser', () => {
  const resources = suiteResources('browser');
  let executablePath: string;
  let service: ServiceProcess;
  let base: string;
  let receiver: Receiver;
  let profile: string;
  let browser: BrowserContext;
  let agentId: number;
  /** Every host the pages asked for something. */
  const hosts = new Set<string>();

  beforeAll(async () => {
    executablePath = ensureChromium();
    receiver = await new Receiver().start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = await prepareCompiledService(resources, { PORT: String(port) });
    service = runService('main', env, ['--with-worker']);
    await service.waitForOutput('Delivery worker');

    await request(base).post('/client/').set(admin).send({ id: '12', name: 'Ringme' }).expect(201);
    const agent = await request(base).post('/client/12/agent/local/').set(admin).send({ extension_name: '000*094@ringme.ru' }).expect(201);
    agentId = agent.body.id as number;

    mkdirSync(SCREENSHOTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'agent-events-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
      httpCredentials: { username: 'admin', password: ADMIN_TOKEN },
    });
    browser.on('request', (sent) => {
      const url = new URL(sent.url());
      if (url.protocol.startsWith('http')) hosts.add(url.host);
    });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    service?.child.kill('SIGKILL');
    await service?.exited;
    await receiver?.stop();
    const pool = await mysql.createConnection({ uri: resources.databaseUrl.replace(/\/[^/]*$/, '/') });
    await pool.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await pool.end();
    const redis = new Redis(resources.redisUrl);
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  it('prints where it listens and the webhook allow-list in force', () => {
    expect(service.output()).toContain(`on 127.0.0.1 only, port ${new URL(base).port}`);
    expect(service.output()).toContain('Allow-list  WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8 ');
  });

  it('creates an agent event through Swagger UI: authorize with the admin token, try it out, see 201 and its four fields', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    await page.locator('.auth-wrapper button.authorize').click();
    await page.locator('.modal-ux input').first().fill(ADMIN_TOKEN);
    // The bearer scheme's button; the OAuth2 scheme (client credentials) has one of its own below it.
    await page.getByRole('button', { name: 'Apply credentials' }).click();
    await page.locator('.modal-ux button.btn-done').first().click();

    const operation = page.locator('.opblock-post', {
      has: page.locator('.opblock-summary-path[data-path="/client/{client_id}/agent/local/{agent_id}/event"]'),
    });
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('tr[data-param-name="client_id"] input').fill('12');
    await operation.locator('tr[data-param-name="agent_id"] input').fill(String(agentId));
    await operation
      .locator('textarea.body-param__text')
      .fill(JSON.stringify({ event_type: 'agent-login', method: 'GET', url: receiver.url('/fordel/show.php') }, null, 2));
    await operation.locator('button.execute').click();

    const answer = operation.locator('.live-responses-table .response');
    await expect(answer.locator('.response-col_status').first().textContent()).resolves.toContain('201');
    const body = JSON.parse((await answer.locator('.response-col_description pre').first().textContent()) ?? '') as Record<string, unknown>;
    expect(body).toEqual({ url: receiver.url('/fordel/show.php'), method: 'GET', event_type: 'agent-login', id: expect.any(Number) });
    await scroll(page, operation.locator('.live-responses-table'));
    await page.screenshot({ path: `${SCREENSHOTS}/swagger-ui.png` });

    // What Swagger UI created is real: the API lists it.
    const listed = await request(base).get(`/client/12/agent/local/${agentId}/event/`).set(admin).expect(200);
    expect(listed.body).toEqual([body]);
    await page.close();
  });

  it("shows a login's delivery in Bull Board as a completed job named after whose it is", async () => {
    await request(base).put(`/client/12/agent/local/${agentId}`).set(admin).send({ status: 'available' }).expect(200);
    await receiver.waitFor(1);
    const name = `client 12 · local agent ${agentId} · agent-login · 127.0.0.1:${receiver.port}`;

    const page = await browser.newPage();
    await page.goto(`${base}/admin/queues/queue/webhooks?status=completed`);
    await page.getByText(name).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${SCREENSHOTS}/bull-board.png` });
    await page.close();
  });

  it('loads nothing from an outside host on either page', () => {
    expect([...hosts]).toEqual([new URL(base).host]);
  });
});

async function scroll(page: Page, target: ReturnType<Page['locator']>): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  await page.mouse.wheel(0, -250);
}
