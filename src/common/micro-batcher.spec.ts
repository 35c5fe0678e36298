import { MicroBatcher } from './micro-batcher.js';

describe('MicroBatcher', () => {
  it('runs calls made together as one batch and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        return items.map((item) => item * 10);
      },
      { maxSize: 100, maxWaitMs: 5 },
    );
    const results = await Promise.all([1, 2, 3].map((item) => batcher.add(item)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('with maxWaitMs 0 batches what arrives in the same turn of the event loop', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        return items;
      },
      { maxSize: 100, maxWaitMs: 0 },
    );
    await Promise.all([batcher.add(1), batcher.add(2)]);
    await batcher.add(3);
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('sends a lone item at the end of the turn when no run is out, and waits maxWaitMs for company while one is', async () => {
    const batches: number[][] = [];
    const releases: (() => void)[] = [];
    const batcher = new MicroBatcher<number, number>(
      (items) => {
        batches.push(items);
        return new Promise((resolve) => releases.push(() => resolve(items)));
      },
      { maxSize: 100, maxWaitMs: 50 },
    );
    const started = performance.now();
    const first = batcher.add(1);
    await new Promise((resolve) => setImmediate(resolve));
    // Idle: the first item went at once, not after 50 ms.
    expect(batches).toEqual([[1]]);
    expect(performance.now() - started).toBeLessThan(50);
    // While that run is out, the next items wait for company.
    const second = batcher.add(2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const third = batcher.add(3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(batches).toEqual([[1], [2, 3]]);
    releases.forEach((release) => release());
    await expect(Promise.all([first, second, third])).resolves.toEqual([1, 2, 3]);
    // All runs settled: idle again, so a lone item goes at once.
    const fourth = batcher.add(4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1], [2, 3], [4]]);
    releases[2]();
    await expect(fourth).resolves.toBe(4);
  });

  it('starts a batch as soon as it is full', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        return items;
      },
      { maxSize: 2, maxWaitMs: 10_000 },
    );
    await Promise.all([1, 2, 3, 4].map((item) => batcher.add(item)));
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('rejects every caller of a batch that failed, and goes on with the next batch', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        if (fail) throw new Error('database went away');
        return items;
      },
      { maxSize: 10, maxWaitMs: 1 },
    );
    const failed = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.add(3)).resolves.toBe(3);
  });
});
