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
