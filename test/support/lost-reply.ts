import { connect, createServer, type Server, type Socket } from "node:net";
import { listenInFront } from "./proxy.js";

/**
 * A TCP proxy in front of PostgreSQL that can lose the reply to a delivery's commit: the server has committed, the
 * client only sees its connection die. This is the one failure where a 5xx is answered for a delivery that is
 * stored, made deterministic (a plain cut lands before or after the commit by chance).
 */
export interface LostReplyProxy {
  /** The upstream URL rewritten to go through the proxy. */
  url: string;
  /** The next transaction that applies deliveries and commits on the server is never acknowledged to the client. */
  loseNextCommit(): void;
  /** How many commit replies were lost so far. */
  readonly lost: number;
  close(): Promise<void>;
}

export async function lostReplyProxy(upstreamUrl: string): Promise<LostReplyProxy> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  let armed = false;
  let lost = 0;
  const server: Server = createServer((client) => {
    const target = connect(Number(upstream.port || 5432), upstream.hostname);
    for (const s of [client, target]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(target);
    client.on("close", () => target.destroy());
    target.on("close", () => client.destroy());
    // Armed, the connection that calls a webhook's apply statement (by its name) loses the server's answer at the
    // end of that transaction: its ReadyForQuery, which PostgreSQL sends once it has committed.
    let applying = false;
    client.on("data", (chunk: Buffer) => {
      if (armed && chunk.includes(APPLY)) applying = true;
    });
    // Server messages are framed (type byte, int32 length including itself): forward them one by one.
    let pending = Buffer.alloc(0);
    target.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const size = 1 + pending.readInt32BE(1);
        if (pending.length < size) break;
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        if (applying && message[0] === READY_FOR_QUERY) {
          armed = false;
          applying = false;
          lost++;
          client.destroy();
          target.destroy();
          return;
        }
        client.write(message);
      }
    });
  });
  const url = await listenInFront(server, upstreamUrl);
  return {
    url,
    loseNextCommit() {
      armed = true;
    },
    get lost() {
      return lost;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The prefix of the webhook's apply statements' names, which their calls carry (src/store/shapes.ts). */
const APPLY = Buffer.from("clerk_user_sync_apply");
const READY_FOR_QUERY = 0x5a;
