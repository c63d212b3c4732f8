import type { Delivery } from "../decode.js";
import type { Outcome } from "./apply.js";

/** Options of the group-commit writer. */
export interface WriterOptions {
  /** The most deliveries committed in one transaction. */
  maxBatch?: number;
  /** How many transactions may be in flight at once. */
  concurrency?: number;
  /** Called after every transaction, committed or not. */
  onCommit?: (size: number, seconds: number, ok: boolean) => void;
}

interface Pending {
  delivery: Delivery;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. A delivery that finds the writer idle is committed at once, alone, with no waiting; deliveries
 * that arrive while a transaction is in flight queue up and go together in the next one. Each caller's promise
 * settles only after its own delivery's transaction has committed (or failed). A batch that fails is retried
 * delivery by delivery, so one bad event cannot fail the others.
 */
export class Writer {
  readonly #apply: (batch: readonly Delivery[]) => Promise<Outcome[]>;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  readonly #onCommit: NonNullable<WriterOptions["onCommit"]>;
  #queue: Pending[] = [];
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(apply: (batch: readonly Delivery[]) => Promise<Outcome[]>, options: WriterOptions = {}) {
    this.#apply = apply;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#concurrency = options.concurrency ?? 1;
    this.#onCommit = options.onCommit ?? (() => {});
  }

  /** Commits one delivery; resolves with its outcome once it is durable. */
  write(delivery: Delivery): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ delivery, resolve, reject });
      if (this.#inFlight < this.#concurrency) void this.#flush();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  drained(): Promise<void> {
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #flush(): Promise<void> {
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    this.#inFlight++;
    try {
      await this.#commit(batch);
    } finally {
      this.#inFlight--;
      if (this.#queue.length > 0) void this.#flush();
      else if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const outcomes = await this.#apply(batch.map((p) => p.delivery));
      this.#onCommit(batch.length, (performance.now() - started) / 1000, true);
      for (const [i, pending] of batch.entries()) pending.resolve(outcomes[i] as Outcome);
    } catch (error) {
      this.#onCommit(batch.length, (performance.now() - started) / 1000, false);
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const pending of batch) await this.#commit([pending]);
    }
  }
}
