/** The parts of an outgoing webhook HTTP request that depend on the payload. */
export interface WebhookRequest {
  method: 'GET' | 'POST';
  /** URL to send to: fragment removed, GET parameters appended. */
  url: string;
  /** Form body for POST; undefined for GET. */
  body: string | undefined;
  /** Exactly the bytes the signature covers: the query string we added (GET) or the body (POST). */
  signedContent: string;
  headers: Record<string, string>;
}

/**
 * Encodes as application/x-www-form-urlencoded using the WHATWG rules
 * (URLSearchParams): space → '+', '*' kept, '@' → '%40', UTF-8 percent-encoding.
 * Order is the object's property order; note JS puts integer-like keys first.
 */
export function encodeForm(payload: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(payload)) {
    // Guards against untyped callers: URLSearchParams would silently stringify.
    if (typeof value !== 'string') {
      throw new TypeError(`form value for "${key}" must be a string, got ${typeof value}`);
    }
    params.append(key, value);
  }
  return params.toString();
}

/**
 * Appends already-encoded parameters to a URL, leaving the receiver's own query
 * byte-for-byte as configured (re-serialising it could change its encoding).
 * The fragment is dropped: it is never sent over HTTP.
 */
export function appendQuery(url: string, encoded: string): string {
  // The first '#' always starts the fragment; it cannot occur unescaped before.
  const hash = url.indexOf('#');
  const base = hash === -1 ? url : url.slice(0, hash);
  if (encoded === '') return base;
  if (!base.includes('?')) return `${base}?${encoded}`;
  return base.endsWith('?') || base.endsWith('&') ? base + encoded : `${base}&${encoded}`;
}

const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Builds the request for a receiver: GET puts the form in the query, POST in the body. */
export function buildWebhookRequest(method: 'GET' | 'POST', url: string, payload: Record<string, string>): WebhookRequest {
  const encoded = encodeForm(payload);
  if (method === 'GET') {
    return { method, url: appendQuery(url, encoded), body: undefined, signedContent: encoded, headers: {} };
  }
  if (method === 'POST') {
    return {
      method,
      url: appendQuery(url, ''),
      body: encoded,
      signedContent: encoded,
      headers: { 'Content-Type': FORM_CONTENT_TYPE },
    };
  }
  throw new TypeError(`unsupported webhook method: ${String(method)}`);
}
