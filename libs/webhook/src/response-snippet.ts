export interface LimitedText {
  text: string;
  /** True when the stream had more than maxBytes. */
  truncated: boolean;
}

/**
 * Reads a response body keeping at most `maxBytes` (UTF-8), then stops and destroys the
 * stream so a huge or endless body cannot exhaust memory or hold the worker.
 */
export async function readLimited(stream: AsyncIterable<Buffer | Uint8Array | string>, maxBytes: number): Promise<LimitedText> {
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    if (buf.length === 0) continue;
    if (size + buf.length > maxBytes) {
      chunks.push(buf.subarray(0, maxBytes - size));
      truncated = true;
      break; // runs the iterator's return(), which ends Node streams too
    }
    chunks.push(buf);
    size += buf.length;
  }
  if (truncated) {
    const destroy = (stream as { destroy?: unknown }).destroy;
    if (typeof destroy === 'function') destroy.call(stream);
  }
  // stream: true holds back a multi-byte character cut at the limit instead of emitting U+FFFD.
  const text = new TextDecoder().decode(Buffer.concat(chunks), { stream: truncated });
  return { text, truncated };
}

/** Shortens text to at most `max` UTF-16 units, ending with '…' when cut, never splitting a surrogate pair. */
export function snippet(text: string, max = 512): string {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be an integer >= 1, got ${max}`);
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1; // high surrogate: drop it with its pair
  return `${text.slice(0, end)}…`;
}
