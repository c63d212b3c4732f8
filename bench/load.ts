import { createHmac } from "node:crypto";
import { connect, type Socket } from "node:net";
import type { Environment } from "../src/verify.js";
import type { BenchDelivery } from "./histories.js";

/** Where and how hard to send. */
export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  connections: number;
  deliveries: readonly BenchDelivery[];
  /** The signing secret of each instance. */
  secrets: Record<Environment, string>;
}

/** What the sender saw. */
export interface LoadResult {
  seconds: number;
  /** Per delivery, in sending order: milliseconds from the first byte written to the last byte read. */
  latencies: Float64Array;
  /** Answers by status and by `status` (2xx) or `code` (errors) of the body, e.g. `200 applied`. */
  answers: Map<string, number>;
}

/**
 * Sends every delivery once, in order, over `connections` keep-alive connections, each waiting for its answer
 * before sending the next (as Svix does per endpoint). Each attempt is signed when it is sent, like Svix does, so a
 * slow run never trips the ±5 minute tolerance. A raw HTTP/1.1 client: the load generator shares the machine with
 * the server and the database, and should take as little of it as it can.
 *
 * @example
 * ```ts
 * const { seconds, answers } = await drive({ host: "127.0.0.1", port, path, connections: 32, deliveries, secrets });
 * ```
 */
export async function drive(options: LoadOptions): Promise<LoadResult> {
  const { deliveries } = options;
  const keys = {
    development: Buffer.from(options.secrets.development.slice("whsec_".length), "base64"),
    production: Buffer.from(options.secrets.production.slice("whsec_".length), "base64"),
  };
  const head = `POST ${options.path} HTTP/1.1\r\nhost: ${options.host}:${options.port}\r\ncontent-type: application/json\r\n`;
  const latencies = new Float64Array(deliveries.length);
  const answers = new Map<string, number>();
  let next = 0;

  const request = (d: BenchDelivery): Buffer => {
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac("sha256", keys[d.environment])
      .update(`${d.svixId}.${timestamp}.${d.body}`)
      .digest("base64");
    return Buffer.from(
      `${head}svix-id: ${d.svixId}\r\nsvix-timestamp: ${timestamp}\r\nsvix-signature: v1,${signature}\r\n` +
        `content-length: ${Buffer.byteLength(d.body)}\r\n\r\n${d.body}`,
    );
  };

  const worker = async () => {
    const connection = await Connection.open(options.host, options.port);
    try {
      while (next < deliveries.length) {
        const i = next++;
        const bytes = request(deliveries[i] as BenchDelivery);
        const started = performance.now();
        const { status, body } = await connection.exchange(bytes);
        latencies[i] = performance.now() - started;
        const parsed = JSON.parse(body) as { status?: string; code?: string };
        const answer = `${status} ${parsed.status ?? parsed.code ?? "?"}`;
        answers.set(answer, (answers.get(answer) ?? 0) + 1);
      }
    } finally {
      connection.close();
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: options.connections }, worker));
  return { seconds: (performance.now() - started) / 1000, latencies, answers };
}

/** One keep-alive connection, one request at a time; answers must carry a Content-Length (Fastify's do). */
class Connection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending:
    | { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void }
    | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", (error) => this.#fail(error));
    socket.on("close", () => this.#fail(new Error("the server closed the connection")));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new Connection(socket)));
      socket.once("error", reject);
    });
  }

  exchange(bytes: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(bytes);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headEnd = this.#buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = this.#buffer.toString("latin1", 0, headEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    if (length === undefined) {
      this.#fail(new Error("an answer without content-length"));
      return;
    }
    const end = headEnd + 4 + Number(length);
    if (this.#buffer.length < end) return;
    const answer = {
      status: Number(head.slice(9, 12)),
      body: this.#buffer.toString("utf8", headEnd + 4, end),
    };
    this.#buffer = this.#buffer.subarray(end);
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(answer);
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }
}
