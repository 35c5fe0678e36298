import { Readable } from 'node:stream';
import { readLimited, snippet } from './response-snippet.js';

async function* chunks(...parts: (string | Buffer)[]) {
  for (const part of parts) yield part;
}

describe('readLimited', () => {
  it('reads a body smaller than the limit completely', async () => {
    expect(await readLimited(chunks('hello ', Buffer.from('world')), 100)).toEqual({ text: 'hello world', truncated: false });
  });

  it('is not truncated when the body is exactly the limit', async () => {
    expect(await readLimited(chunks('abc', 'de'), 5)).toEqual({ text: 'abcde', truncated: false });
  });

  it('cuts at the byte limit mid-chunk and reports truncation', async () => {
    expect(await readLimited(chunks('abc', 'defgh', 'ijk'), 5)).toEqual({ text: 'abcde', truncated: true });
  });

  it('counts bytes, not characters, and does not emit half a character', async () => {
    // 'Привет' is 12 bytes; 5 bytes = 2 whole letters + 1 byte of the third.
    expect(await readLimited(chunks('Привет'), 5)).toEqual({ text: 'Пр', truncated: true });
    expect(await readLimited(chunks('Привет'), 12)).toEqual({ text: 'Привет', truncated: false });
  });

  it('handles a zero limit and empty chunks', async () => {
    expect(await readLimited(chunks('', 'x'), 0)).toEqual({ text: '', truncated: true });
    expect(await readLimited(chunks('', ''), 0)).toEqual({ text: '', truncated: false });
  });

  it('stops pulling from an endless source', async () => {
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024, 0x61);
      }
    }
    const result = await readLimited(endless(), 3000);
    expect(result.truncated).toBe(true);
    expect(result.text).toBe('a'.repeat(3000));
    expect(pulled).toBe(3);
  });

  it('destroys a Node stream that exceeds the limit', async () => {
    const stream = Readable.from(['x'.repeat(100), 'y'.repeat(100), 'z'.repeat(100)], { objectMode: false });
    const result = await readLimited(stream, 150);
    expect(result).toEqual({ text: 'x'.repeat(100) + 'y'.repeat(50), truncated: true });
    expect(stream.destroyed).toBe(true);
  });

  it('calls destroy on a plain async iterable that has one', async () => {
    let destroyed = 0;
    const source = Object.assign(chunks('abcdef'), { destroy: () => void destroyed++ });
    await readLimited(source, 2);
    expect(destroyed).toBe(1);
  });

  it('does not destroy a stream that was read to the end', async () => {
    let destroyed = 0;
    const source = Object.assign(chunks('ab'), { destroy: () => void destroyed++ });
    await readLimited(source, 2);
    expect(destroyed).toBe(0);
  });

  it('propagates stream errors', async () => {
    async function* failing() {
      yield 'a';
      throw new Error('socket hang up');
    }
    await expect(readLimited(failing(), 10)).rejects.toThrow('socket hang up');
  });

  it('rejects a negative or fractional limit', async () => {
    await expect(readLimited(chunks('a'), -1)).rejects.toThrow(RangeError);
    await expect(readLimited(chunks('a'), 1.5)).rejects.toThrow(RangeError);
  });
});

describe('snippet', () => {
  it('returns short text unchanged', () => {
    expect(snippet('ok')).toBe('ok');
    expect(snippet('')).toBe('');
    expect(snippet('x'.repeat(512))).toBe('x'.repeat(512));
  });

  it('cuts long text to at most max characters ending with an ellipsis', () => {
    const out = snippet('x'.repeat(600));
    expect(out).toHaveLength(512);
    expect(out.endsWith('x…')).toBe(true);
    expect(snippet('abcdef', 4)).toBe('abc…');
    expect(snippet('abcdef', 1)).toBe('…');
  });

  it('never splits a surrogate pair', () => {
    // cut point falls between the halves of '😀' (2 UTF-16 units)
    const out = snippet('ab😀cdef', 4);
    expect(out).toBe('ab…');
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('rejects a max below 1', () => {
    expect(() => snippet('abc', 0)).toThrow(RangeError);
  });
});
