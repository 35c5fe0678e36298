import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { generateSigningSecret, signatureHeader, signPayload } from './signing.js';

const now = () => Math.floor(Date.now() / 1000);
// jsonParse: false — our payloads are form-encoded, not JSON.
const verify = (secret: string, content: string, id: string, ts: number, signature: string) =>
  new Webhook(secret).verify(
    content,
    { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature },
    { jsonParse: false },
  );

describe('generateSigningSecret', () => {
  it('is whsec_ + base64 of 32 bytes, different every time', () => {
    const a = generateSigningSecret();
    const b = generateSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe('signPayload', () => {
  it('is v1, + base64 HMAC-SHA256 of id.timestamp.content keyed with the decoded secret', () => {
    const key = Buffer.alloc(32, 7);
    const secret = `whsec_${key.toString('base64')}`;
    const expected = createHmac('sha256', key).update('msg_1.1700000000.a=1&b=%D0%AF').digest('base64');
    expect(signPayload(secret, 'msg_1', 1700000000, 'a=1&b=%D0%AF')).toBe(`v1,${expected}`);
  });

  it('verifies with the standardwebhooks library', () => {
    const secret = generateSigningSecret();
    const ts = now();
    const content = 'agent_status=logout&agent=%D0%98%D0%B2%D0%B0%D0%BD';
    expect(() => verify(secret, content, 'evt_42', ts, signPayload(secret, 'evt_42', ts, content))).not.toThrow();
  });

  it('equals the reference implementation for an empty body', () => {
    const secret = generateSigningSecret();
    const ts = now();
    expect(signPayload(secret, 'id', ts, '')).toBe(new Webhook(secret).sign('id', new Date(ts * 1000), ''));
  });

  it('fails verification when content, id, timestamp or secret differ', () => {
    const secret = generateSigningSecret();
    const ts = now();
    const sig = signPayload(secret, 'evt', ts, 'a=1');
    expect(() => verify(secret, 'a=2', 'evt', ts, sig)).toThrow(WebhookVerificationError);
    expect(() => verify(secret, 'a=1', 'evt2', ts, sig)).toThrow(WebhookVerificationError);
    expect(() => verify(secret, 'a=1', 'evt', ts + 1, sig)).toThrow(WebhookVerificationError);
    expect(() => verify(generateSigningSecret(), 'a=1', 'evt', ts, sig)).toThrow(WebhookVerificationError);
  });

  it('rejects malformed secrets instead of signing with a garbage key', () => {
    expect(() => signPayload('whsec_', 'id', 1, 'x')).toThrow(/base64/);
    expect(() => signPayload('whsec_not base64!', 'id', 1, 'x')).toThrow(/base64/);
    expect(() => signPayload('whsec_abc', 'id', 1, 'x')).toThrow(/base64/);
  });

  it('rejects non-integer or negative timestamps and empty ids', () => {
    const secret = generateSigningSecret();
    expect(() => signPayload(secret, 'id', 1.5, 'x')).toThrow(RangeError);
    expect(() => signPayload(secret, 'id', -1, 'x')).toThrow(RangeError);
    expect(() => signPayload(secret, '', 1, 'x')).toThrow(/id/);
  });
});

describe('signatureHeader', () => {
  it('joins one signature per secret with single spaces', () => {
    const [a, b] = [generateSigningSecret(), generateSigningSecret()];
    const header = signatureHeader([a, b], 'evt', 1700000000, 'x=1');
    expect(header).toBe(`${signPayload(a, 'evt', 1700000000, 'x=1')} ${signPayload(b, 'evt', 1700000000, 'x=1')}`);
    expect(header.split(' ')).toHaveLength(2);
  });

  it('during rotation either secret verifies, a third does not', () => {
    const [oldSecret, newSecret] = [generateSigningSecret(), generateSigningSecret()];
    const ts = now();
    const header = signatureHeader([oldSecret, newSecret], 'evt_rot', ts, 'agent_status=login');
    expect(() => verify(oldSecret, 'agent_status=login', 'evt_rot', ts, header)).not.toThrow();
    expect(() => verify(newSecret, 'agent_status=login', 'evt_rot', ts, header)).not.toThrow();
    expect(() => verify(generateSigningSecret(), 'agent_status=login', 'evt_rot', ts, header)).toThrow(WebhookVerificationError);
  });

  it('requires at least one secret', () => {
    expect(() => signatureHeader([], 'evt', 1, 'x')).toThrow(/at least one/);
  });
});
