import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of PostgreSQL that a test can cut: `cut("terminate")` drops every open connection,
 * `cut("refuse")` also closes each new one at once, `restore()` lets traffic through again. A real network fault
 * for a real database, without mocks.
 */
export interface FaultyProxy {
  /** The upstream URL rewritten to go through the proxy. */
  url: string;
  cut(mode: "terminate" | "refuse"): void;
  restore(): void;
  close(): Promise<void>;
}

export async function faultyProxy(upstreamUrl: string): Promise<FaultyProxy> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const target = connect(Number(upstream.port || 5432), upstream.hostname);
    for (const s of [client, target]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(target).pipe(client);
    client.on("close", () => target.destroy());
    target.on("close", () => client.destroy());
  });
  const url = await listenInFront(server, upstreamUrl);
  return {
    url,
    cut(mode) {
      refusing = mode === "refuse";
      for (const s of sockets) s.destroy();
    },
    restore() {
      refusing = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Listens on a free loopback port and returns `upstreamUrl` rewritten to go through it. */
export async function listenInFront(server: Server, upstreamUrl: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = new URL(upstreamUrl);
  url.hostname = "127.0.0.1";
  url.port = String(typeof address === "object" && address ? address.port : 0);
  return url.toString();
}
