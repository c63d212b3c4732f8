import type { IncomingMessage } from "node:http";
import { payloadTooLarge } from "./response.js";

/**
 * The read step: a request's raw bytes, refused as soon as they exceed the body limit, so that a huge upload is
 * never held in memory. The service's node:http route, the Express adapter and the Web adapter all read through
 * here, so all of them count and refuse alike.
 */

/**
 * Chunks gathered up to a limit, whatever stream they come from.
 *
 * @example
 * ```ts
 * const body = new BodyCollector(1024);
 * if (!body.add(chunk)) throw payloadTooLarge();
 * body.bytes(); // the chunks as one Buffer
 * ```
 */
export class BodyCollector {
  #first: Uint8Array | undefined;
  #more: Uint8Array[] | undefined;
  #size = 0;

  constructor(readonly limit: number) {}

  /** Keeps a chunk; false, keeping nothing, once the bytes so far exceed the limit. */
  add(chunk: Uint8Array): boolean {
    this.#size += chunk.byteLength;
    if (this.#size > this.limit) return false;
    // Most deliveries arrive in one chunk: that one is kept as it is, with no list and no copy.
    if (this.#first === undefined) this.#first = chunk;
    else if (this.#more === undefined) this.#more = [this.#first, chunk];
    else this.#more.push(chunk);
    return true;
  }

  /** The bytes kept, as one Buffer. */
  bytes(): Buffer {
    if (this.#more !== undefined) return Buffer.concat(this.#more, this.#size);
    const first = this.#first;
    if (first === undefined) return EMPTY;
    return Buffer.isBuffer(first) ? first : Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  }
}

/** Whether a declared `content-length` is over the limit: then the body is refused before a byte is read. */
export function declaredOver(contentLength: string | null | undefined, limit: number): boolean {
  return Number(contentLength) > limit;
}

/**
 * Reads a Node.js request's body (`node:http`, Express) within `limit` bytes. Rejects with 413
 * `payload_too_large` once the body is over the limit, the rest drained unread; with the stream's own error
 * when the request breaks off.
 *
 * @example
 * ```ts
 * const body = await readNodeBody(request, sync.bodyLimit);
 * ```
 */
export function readNodeBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = new BodyCollector(limit);
    let settled = false;
    const stop = () => {
      settled = true;
      request.off("data", onData).off("end", onEnd);
    };
    const onData = (chunk: Buffer | string) => {
      if (body.add(typeof chunk === "string" ? Buffer.from(chunk) : chunk)) return;
      stop();
      request.resume(); // the rest is drained, so that the connection stays usable
      reject(payloadTooLarge());
    };
    const onEnd = () => {
      stop();
      resolve(body.bytes());
    };
    // Stays attached: a request that breaks off after its body was settled is ignored, not an uncaught error.
    const onError = (error: unknown) => {
      if (settled) return;
      stop();
      reject(error);
    };
    request.on("data", onData).on("end", onEnd).on("error", onError);
  });
}

const EMPTY = Buffer.alloc(0);
