import { appendQuery, buildWebhookRequest, encodeForm } from './form-encoding.js';

describe('encodeForm', () => {
  it('keeps insertion order and uses WHATWG form encoding', () => {
    expect(encodeForm({ z: '1', a: 'x y', star: 'a*b', mail: 'op@example.com' })).toBe('z=1&a=x+y&star=a*b&mail=op%40example.com');
  });

  it('percent-encodes UTF-8 (Cyrillic) and reserved characters', () => {
    expect(encodeForm({ имя: 'Иван', q: 'a&b=c+d/e?%~' })).toBe('%D0%B8%D0%BC%D1%8F=%D0%98%D0%B2%D0%B0%D0%BD&q=a%26b%3Dc%2Bd%2Fe%3F%25%7E');
  });

  it('matches URLSearchParams byte for byte', () => {
    const payload = { agent_status: 'login', note: " -._~!'()*,;:$ ", x: 'é€😀' };
    expect(encodeForm(payload)).toBe(new URLSearchParams(payload).toString());
  });

  it('encodes empty values and an empty payload', () => {
    expect(encodeForm({ a: '', b: 'x' })).toBe('a=&b=x');
    expect(encodeForm({})).toBe('');
  });

  it('rejects non-string values from untyped callers', () => {
    expect(() => encodeForm({ a: 1 } as unknown as Record<string, string>)).toThrow(/"a" must be a string/);
  });
});

describe('appendQuery', () => {
  it.each([
    ['https://h/p', 'https://h/p?b=2'],
    ['https://h/p?', 'https://h/p?b=2'],
    ['https://h/p?a=1', 'https://h/p?a=1&b=2'],
    ['https://h/p?a=1&', 'https://h/p?a=1&b=2'],
    ['https://h/p#frag', 'https://h/p?b=2'],
    ['https://h/p?a=1#frag?x=y', 'https://h/p?a=1&b=2'],
  ])('%s → %s', (url, expected) => {
    expect(appendQuery(url, 'b=2')).toBe(expected);
  });

  it("keeps the receiver's own query exactly, including its encoding", () => {
    expect(appendQuery('https://h/p?token=a%2Fb&x=a b&x=2', 'b=2')).toBe('https://h/p?token=a%2Fb&x=a b&x=2&b=2');
  });

  it('adds nothing (but still drops the fragment) when there is nothing to append', () => {
    expect(appendQuery('https://h/p?a=1#f', '')).toBe('https://h/p?a=1');
    expect(appendQuery('https://h/p', '')).toBe('https://h/p');
  });
});

describe('buildWebhookRequest', () => {
  const payload = { agent_status: 'login', agent: 'Анна Петрова' };
  const encoded = 'agent_status=login&agent=%D0%90%D0%BD%D0%BD%D0%B0+%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2%D0%B0';

  it('GET: parameters go in the query, the signature covers the appended string only', () => {
    expect(buildWebhookRequest('GET', 'https://h/hook?key=abc#x', payload)).toEqual({
      method: 'GET',
      url: `https://h/hook?key=abc&${encoded}`,
      body: undefined,
      signedContent: encoded,
      headers: {},
    });
  });

  it('POST: form body with Content-Type, URL untouched apart from the fragment', () => {
    expect(buildWebhookRequest('POST', 'https://h/hook?key=abc#x', payload)).toEqual({
      method: 'POST',
      url: 'https://h/hook?key=abc',
      body: encoded,
      signedContent: encoded,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  });

  it('rejects other methods from untyped callers', () => {
    expect(() => buildWebhookRequest('PUT' as 'GET', 'https://h/', payload)).toThrow(/unsupported webhook method: PUT/);
  });
});
