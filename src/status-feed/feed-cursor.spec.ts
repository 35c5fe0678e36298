import { decodeCursor, encodeCursor, FEED_START } from './feed-cursor.js';

describe('feed cursors', () => {
  it('round-trips positions and sorts as strings in position order', () => {
    const positions = [0, 1, 9, 10, 15, 16, 255, 256, 4096, 1e6, 2 ** 40, Number.MAX_SAFE_INTEGER];
    const cursors = positions.map(encodeCursor);
    expect(cursors.map((cursor) => decodeCursor(cursor))).toEqual(positions);
    expect([...cursors].reverse().sort()).toEqual(cursors);
    expect(encodeCursor(0)).toBe(FEED_START);
  });

  it('refuses what it did not give out', () => {
    for (const bad of ['', '1', '000000000000000g', '0000000000000000 ', 'FFFFFFFFFFFFFFFF', 'ffffffffffffffff', '-000000000000001']) {
      expect(decodeCursor(bad)).toBeUndefined();
    }
  });
});
