/**
 * Gathers calls made within a few milliseconds into one call of `run`, so many concurrent jobs share one
 * MySQL round trip (and one commit) instead of taking one each. Each caller gets its own item's result;
 * when `run` fails, every caller of that batch gets the error.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private timer?: NodeJS.Timeout;

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
        // maxWaitMs 0: only what arrives in the same turn of the event loop waits, and adds no delay.
        if (this.options.maxWaitMs === 0) setImmediate(() => this.flush());
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
    this.run(batch.map((entry) => entry.item)).then(
      (results) => batch.forEach((entry, index) => entry.resolve(results[index])),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
  }
}
