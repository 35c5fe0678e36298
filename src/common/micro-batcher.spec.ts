import { MicroBatcher } from './micro-batcher.js';

/** A `run` whose calls return only when the test says so. */
function heldRun() {
  const calls: { items: number[]; finish: () => void; fail: (error: Error) => void }[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => calls.push({ items, finish: () => resolve(items.map((item) => item * 10)), fail: reject }));
  return { calls, run };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  it('runs calls made in the same turn of the event loop as one batch, and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        return items.map((item) => item * 10);
      },
      { maxSize: 100 },
    );
    const results = await Promise.all([1, 2, 3].map((item) => batcher.add(item)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('sends an item at once when nothing is in flight: no timer holds it back', async () => {
    const { calls, run } = heldRun();
    const batcher = new MicroBatcher<number, number>(run, { maxSize: 100 });
    const first = batcher.add(1);
    await turn();
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    calls[0].finish();
    await expect(first).resolves.toBe(10);
    const second = batcher.add(2);
    await turn();
    expect(calls.map((call) => call.items)).toEqual([[1], [2]]);
    calls[1].finish();
    await second;
  });

  it('gathers what arrives during a round trip into the next batch, sent as soon as that round trip returns', async () => {
    const { calls, run } = heldRun();
    const batcher = new MicroBatcher<number, number>(run, { maxSize: 100 });
    const first = batcher.add(1);
    await turn();
    const waiting = [2, 3, 4].map((item) => batcher.add(item));
    await turn();
    await turn();
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    calls[0].finish();
    await first;
    await turn();
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3, 4]]);
    calls[1].finish();
    await expect(Promise.all(waiting)).resolves.toEqual([20, 30, 40]);
  });

  it('keeps up to maxInFlight calls in flight, each batch at most maxSize', async () => {
    const { calls, run } = heldRun();
    const batcher = new MicroBatcher<number, number>(run, { maxSize: 2, maxInFlight: 2 });
    const results = [1, 2, 3, 4, 5, 6, 7].map((item) => batcher.add(item));
    await turn();
    expect(calls.map((call) => call.items)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    calls[1].finish();
    await turn();
    expect(calls.map((call) => call.items)).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    calls[0].finish();
    calls[2].finish();
    await turn();
    await turn();
    expect(calls.map((call) => call.items).at(-1)).toEqual([7]);
    calls[3].finish();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('rejects every caller of a batch that failed, and goes on with the next batch', async () => {
    const { calls, run } = heldRun();
    const batcher = new MicroBatcher<number, number>(run, { maxSize: 10 });
    const failed = Promise.allSettled([batcher.add(1), batcher.add(2)]);
    await turn();
    const next = batcher.add(3);
    calls[0].fail(new Error('database went away'));
    expect((await failed).map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await turn();
    calls[1].finish();
    await expect(next).resolves.toBe(30);
  });

  it('rejects the callers of a batch whose run throws before returning a promise', async () => {
    const batcher = new MicroBatcher<number, number>(
      () => {
        throw new Error('not connected');
      },
      { maxSize: 10 },
    );
    await expect(batcher.add(1)).rejects.toThrow('not connected');
  });
});
