export interface BatchingOptions {
  /** The most items one call of `run` takes. */
  maxSize: number;
  /**
   * How many calls of `run` may be in flight at once (default 1). While they all are, new items wait for the first
   * to return and then go together: the batch is whatever gathered during the round trip ("natural" or
   * group-commit batching). No timer ever holds an item back.
   */
  maxInFlight?: number;
}

/**
 * Gathers concurrent calls into one call of `run`, so many jobs or requests share one round trip (and one commit)
 * instead of taking one each. An idle batcher sends at once: only what arrives in the same turn of the event loop
 * joins the first item. Each caller gets its own item's result; when `run` fails, every caller of that batch gets
 * the error.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxInFlight: number;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: BatchingOptions,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.inFlight >= this.maxInFlight) return; // goes when a round trip returns
      if (this.pending.length >= this.options.maxSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // The end of this turn of the event loop: the items of the same turn go together, and nothing waits longer.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.options.maxSize);
      this.inFlight++;
      let results: Promise<O[]>;
      try {
        results = this.run(batch.map((entry) => entry.item));
      } catch (error) {
        results = Promise.reject(error);
      }
      results
        .then(
          (values) => batch.forEach((entry, index) => entry.resolve(values[index])),
          (error: unknown) => batch.forEach((entry) => entry.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          // What gathered while this round trip was in flight goes now.
          this.flush();
        });
    }
  }
}
