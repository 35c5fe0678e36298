import * as webhook from './index.js';

describe('libs/webhook public API', () => {
  it('re-exports every runtime export', () => {
    expect(Object.keys(webhook).sort()).toEqual([
      'DEFAULT_RETRY_SCHEDULE',
      'TargetNotAllowedError',
      'TargetPolicy',
      'appendQuery',
      'buildWebhookRequest',
      'encodeForm',
      'generateSigningSecret',
      'parseRetryAfter',
      'parseRetrySchedule',
      'readLimited',
      'retryDelayMs',
      'signPayload',
      'signatureHeader',
      'snippet',
    ]);
  });

  it('wires a signed GET delivery end to end', () => {
    const secret = webhook.generateSigningSecret();
    const req = webhook.buildWebhookRequest('GET', 'https://h/hook', { agent_status: 'login' });
    expect(req.url).toBe('https://h/hook?agent_status=login');
    expect(webhook.signatureHeader([secret], 'evt', 1700000000, req.signedContent)).toBe(
      webhook.signPayload(secret, 'evt', 1700000000, 'agent_status=login'),
    );
  });
});
