import calculateSlot from 'cluster-key-slot';
import { shardPrefixes } from '../redis/queue-prefixes.js';
import { shardOf } from './queue-shards.js';

describe('shardPrefixes', () => {
  it('keeps QUEUE_PREFIX as it is for one queue (the layout before shards)', () => {
    expect(shardPrefixes('{agent-events}', 1)).toEqual(['{agent-events}']);
  });

  it('gives queue 0 QUEUE_PREFIX and each other queue a hash tag of its own, in another part of the slots', () => {
    const prefixes = shardPrefixes('ae:{agent-events}:x', 3);
    expect(prefixes[0]).toBe('ae:{agent-events}:x');
    for (const prefix of prefixes.slice(1)) expect(prefix).toMatch(/^ae:\{agent-events-\d+\}:x$/);
    const thirds = prefixes.map((prefix) => Math.floor((calculateSlot(prefix) * 3) / 16384));
    expect(new Set(thirds).size).toBe(3);
  });

  it('is the same in every process', () => {
    expect(shardPrefixes('{agent-events}', 4)).toEqual(shardPrefixes('{agent-events}', 4));
  });
});

describe('shardOf', () => {
  it("puts a client's deliveries in one queue, and spreads clients over all of them", () => {
    expect(shardOf('12', 3)).toBe(shardOf('12', 3));
    expect(shardOf('12', 1)).toBe(0);
    const used = new Set(Array.from({ length: 30 }, (_, index) => shardOf(String(index + 1), 3)));
    expect([...used].sort()).toEqual([0, 1, 2]);
  });
});
