import { jest } from '@jest/globals';
import { TtlCache } from './ttl-cache.js';

describe('TtlCache', () => {
  afterEach(() => jest.useRealTimers());

  it('forgets an entry once its time is up', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const cache = new TtlCache<string, number>(5000);
    cache.set('a', 1);
    jest.setSystemTime(1_004_999);
    expect(cache.get('a')).toBe(1);
    jest.setSystemTime(1_005_000);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the oldest first', () => {
    const cache = new TtlCache<number, number>(60_000, 3);
    for (const n of [1, 2, 3, 4]) cache.set(n, n);
    expect([1, 2, 3, 4].map((n) => cache.get(n))).toEqual([undefined, 2, 3, 4]);
  });

  it('deletes the entries whose key passes a test', () => {
    const cache = new TtlCache<string, number>(60_000);
    cache.set('app1:x', 1);
    cache.set('app1:y', 2);
    cache.set('app2:x', 3);
    cache.deleteWhere((key) => key.startsWith('app1:'));
    expect(['app1:x', 'app1:y', 'app2:x'].map((key) => cache.get(key))).toEqual([undefined, undefined, 3]);
  });
});
