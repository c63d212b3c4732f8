import { type DestinationStream, pino } from "pino";
import type { LogFormat } from "../service/config.js";

/** Where `serve` writes its log, and how to push out what is buffered. */
export interface LogOutput {
  stream: DestinationStream;
  flush(): void;
  format: LogFormat;
}

/**
 * The log's format: LOG_FORMAT when set; otherwise lines a person reads when standard output is a terminal, and
 * JSON lines (one object each, for a collector) when it is a file or a pipe.
 */
export function logFormatFor(
  configured: LogFormat | undefined,
  tty = process.stdout.isTTY === true,
): LogFormat {
  return configured ?? (tty ? "pretty" : "json");
}

/**
 * Standard output for `serve`'s log. JSON: written 4 KB at a time and at least once a second (pino's default, an
 * asynchronous write whenever the previous one is done, costs the service measurable CPU under load: see
 * docs/performance.md); a second is the longest a line of a quiet service waits. What is left goes out when the
 * process exits: by a signal it handles, `process.exit` or an uncaught error, not by SIGKILL. `flush`, not
 * `flushSync`: sonic-boom's `flushSync` retries a closed pipe (EPIPE) forever, where `flush` reports it to pino,
 * which stops writing.
 *
 * Pretty: pino-pretty in this process, writing each line synchronously (a person watches a terminal, nobody
 * benchmarks it), not as a worker-thread transport; loaded only here, so the library's entries never import it.
 * It prints the same fields the JSON line carries, nothing more.
 */
export async function logOutput(
  format: LogFormat,
  colorize = process.stdout.isTTY === true,
): Promise<LogOutput> {
  if (format === "pretty") {
    const { default: pretty } = await import("pino-pretty");
    const stream = pretty({
      destination: 1,
      sync: true,
      colorize,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,service",
      singleLine: true,
    });
    return { stream, flush: () => {}, format };
  }
  const output = pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 1000 });
  process.on("exit", () => output.flush());
  return { stream: output, flush: () => output.flush(), format };
}
