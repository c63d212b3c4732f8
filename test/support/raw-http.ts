import { connect } from "node:net";

/** What came back on a raw connection: the status, the headers (lower-cased) and the body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection after answering. */
  closed: boolean;
}

/**
 * Sends bytes on a fresh TCP connection, exactly as given (no HTTP client fixes them up: `inject()` would bypass
 * Node's parser, where these requests fail), and reads one answer. `chunks` after the first are written one by
 * one as `drip` says; `half` ends the sending side after the last one.
 */
export function rawExchange(
  port: number,
  chunks: (string | Buffer)[],
  options: { dripMs?: number; half?: boolean; deadlineMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${options.deadlineMs ?? 10_000} ms`));
    }, options.deadlineMs ?? 10_000);
    const finish = (closed: boolean) => {
      clearTimeout(deadline);
      clearTimeout(timer);
      const answer = parse(Buffer.concat(received), closed);
      if (answer) resolve(answer);
      else
        reject(
          new Error(`no complete answer: ${JSON.stringify(Buffer.concat(received).toString("latin1"))}`),
        );
    };
    socket.on("data", (chunk) => {
      received.push(chunk);
      const answer = parse(Buffer.concat(received), false);
      // A complete answer on a connection the server keeps open: done.
      if (answer && answer.headers.connection !== "close") {
        socket.destroy();
        finish(false);
      }
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => {}); // a reset after the answer is how some refusals end
    const queue = [...chunks];
    const next = () => {
      const chunk = queue.shift();
      if (chunk === undefined) {
        if (options.half) socket.end();
        return;
      }
      if (socket.destroyed) return;
      socket.write(chunk);
      timer = setTimeout(next, queue.length > 0 ? (options.dripMs ?? 0) : 0);
    };
    socket.on("connect", next);
  });
}

function parse(bytes: Buffer, closed: boolean): RawAnswer | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const [statusLine = "", ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? Number.NaN);
  const body = bytes.subarray(end + 4);
  if (Number.isFinite(length) ? body.length < length : !closed) return undefined;
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: body.subarray(0, Number.isFinite(length) ? length : body.length).toString("utf8"),
    closed,
  };
}
