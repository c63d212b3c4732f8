import type { Outcome } from "./apply.js";

/** Options of the group-commit writer. */
export interface WriterOptions {
  /** The most deliveries committed in one transaction (500). */
  maxBatch?: number;
  /**
   * The most body text in one transaction, in characters (1 Mi): a batch of large bodies travels as one document,
   * and the heap must hold it (a delivery larger than this still goes, alone).
   */
  maxBatchChars?: number;
  /**
   * How many transactions may be in flight at once (1), up to what the database runs at once (1 on PGlite). One is
   * the fastest on PostgreSQL too: a second one halves the batches, and PostgreSQL pays its per-transaction cost
   * twice as often (docs/performance.md).
   */
  concurrency?: number;
  /** Called after every transaction, committed or not. */
  onCommit?: (size: number, seconds: number, ok: boolean) => void;
}

interface Pending<T> {
  item: T;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. A delivery that finds the writer idle starts a transaction at the end of the event loop's turn,
 * together with whatever else was read in that turn (no timer: a lone delivery goes alone at once); deliveries that
 * arrive while a transaction is in flight queue up and go together in the next one. Each caller's promise
 * settles only after its own delivery's transaction has committed (or failed). A batch that fails is retried
 * delivery by delivery, so one bad event cannot fail the others.
 *
 * When a transaction commits, the next batch is sent before the callers of this one are answered: the database
 * works on it while their responses are written, instead of waiting for them.
 *
 * @example
 * ```ts
 * const writer = new Writer<Queued>((batch) => applyBatch(db, batch), {}, (q) => q.delivery.body?.length ?? 0);
 * const outcome = await writer.write(queued(delivery)); // "applied", "duplicate", "stale" or "ignored", once committed
 * ```
 */
export class Writer<T> {
  readonly #apply: (batch: readonly T[]) => Promise<Outcome[]>;
  readonly #size: (item: T) => number;
  readonly #maxBatch: number;
  readonly #maxBatchChars: number;
  readonly #concurrency: number;
  readonly #onCommit: NonNullable<WriterOptions["onCommit"]>;
  #queue: Pending<T>[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];
  /** Transactions whose callers are still to be answered. */
  #answering = 0;

  /**
   * `apply` commits a batch of items in one transaction and returns each one's outcome, in order; `size` is what an
   * item weighs against `maxBatchChars` (its characters of body; by default nothing).
   */
  constructor(
    apply: (batch: readonly T[]) => Promise<Outcome[]>,
    options: WriterOptions = {},
    size: (item: T) => number = () => 0,
  ) {
    this.#apply = apply;
    this.#size = size;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxBatchChars = options.maxBatchChars ?? 1024 * 1024;
    this.#concurrency = options.concurrency ?? 1;
    this.#onCommit = options.onCommit ?? (() => {});
  }

  /** Commits one delivery; resolves with its outcome once it is durable. */
  write(item: T): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Starts a transaction when the event loop has read what arrived with this delivery, not at once: deliveries
   * read in the same turn go together. On PGlite, whose transactions run synchronously, no batch could form
   * otherwise. A lone delivery waits for no timer, only for the end of the turn.
   */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#concurrency) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Resolves when nothing is queued, in flight or still to be answered. */
  drained(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#queue.length === 0 && this.#answering === 0;
  }

  /** Starts a transaction for what is queued, in each free slot. */
  #flush(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      this.#inFlight++;
      void this.#run(this.#queue.splice(0, this.#batchLength()));
    }
  }

  /** How many of the queued deliveries the next transaction takes: at least one. */
  #batchLength(): number {
    let chars = 0;
    let n = 0;
    for (const { item } of this.#queue) {
      chars += this.#size(item);
      if (n === this.#maxBatch || (n > 0 && chars > this.#maxBatchChars)) break;
      n++;
    }
    return n;
  }

  async #run(batch: Pending<T>[]): Promise<void> {
    let answer: () => void;
    try {
      const outcomes = await this.#attempt(batch);
      answer = () => {
        for (const [i, pending] of batch.entries()) pending.resolve(outcomes[i] as Outcome);
      };
    } catch (error) {
      if (batch.length === 1) {
        answer = () => batch[0]?.reject(error);
      } else {
        // The slot stays taken meanwhile: on PGlite no other transaction may start before these are done.
        for (const pending of batch) {
          await this.#attempt([pending]).then(
            ([outcome]) => pending.resolve(outcome as Outcome),
            pending.reject,
          );
        }
        answer = () => {};
      }
    }
    this.#inFlight--;
    this.#flush();
    // The callers are answered in the event loop's check phase, not now, so that the next batch is on the wire
    // first: pg-pool hands out a connection on the next tick, after every promise reaction queued before it, and
    // answering here would queue each caller's response ahead of the next batch (measured: the database then
    // waited about 0.3 ms per transaction for it).
    this.#answering++;
    setImmediate(() => {
      answer();
      this.#answering--;
      if (this.#isIdle()) for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  async #attempt(batch: Pending<T>[]): Promise<Outcome[]> {
    const started = performance.now();
    try {
      const outcomes = await this.#apply(batch.map((p) => p.item));
      this.#onCommit(batch.length, (performance.now() - started) / 1000, true);
      return outcomes;
    } catch (error) {
      this.#onCommit(batch.length, (performance.now() - started) / 1000, false);
      throw error;
    }
  }
}
