/**
 * Gathers calls made within a few milliseconds into one call of `run`, so many concurrent jobs share one
 * MySQL round trip (and one commit) instead of taking one each. Each caller gets its own item's result;
 * when `run` fails, every caller of that batch gets the error.
 *
 * What arrives in the same turn of the event loop always shares a run. Waiting `maxWaitMs` longer for company pays
 * only while an earlier run is still out (the process is busy, more items are coming): when none is, a lone item
 * goes at the end of the turn instead of waiting for nothing, and the process sleeps without a timer to wake it.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private timer?: NodeJS.Timeout;
  /** Runs started and not settled yet. */
  private running = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: { maxSize: number; maxWaitMs: number },
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        if (this.options.maxWaitMs === 0 || this.running === 0) setImmediate(() => this.flush());
        else this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs);
      }
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.running++;
    this.run(batch.map((entry) => entry.item)).then(
      (results) => {
        this.running--;
        batch.forEach((entry, index) => entry.resolve(results[index]));
      },
      (error: unknown) => {
        this.running--;
        batch.forEach((entry) => entry.reject(error));
      },
    );
  }
}
