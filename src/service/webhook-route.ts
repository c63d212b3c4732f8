import type { IncomingMessage, ServerResponse } from "node:http";
import { payloadTooLarge, type SyncResponse } from "../response.js";
import { type ClerkUserSync, WEBHOOK_PATH } from "../sync.js";

/*
 * Why this module exists: the service's one hot route, `POST /api/user/webhook/clerk`, is answered straight from
 * `node:http` instead of through Fastify. The core is framework-free; between the socket and `sync.handle` Fastify
 * added its request and reply objects, its async hooks, its content-type parser and its reply serialisation. Measured
 * (docs/performance.md, 2026-11-29, 2 shared vCPUs): Fastify was 6% of the server's main thread a delivery (4.1 of
 * 65 µs), this route is 1.8 µs; the HTTP layer alone (a core that answers at once, both servers loaded side by side)
 * went from 19 to 16 µs of CPU a request; with the database, 2–18% fewer µs of server CPU a delivery and about 6%
 * more deliveries/s in paired runs. Everything else (other methods on this path, health, metrics, the console,
 * 404s, a request without the Host HTTP/1.1 requires) still goes through Fastify, which the library's users mount
 * too (src/adapters/fastify.ts). This route answers exactly as that plugin does: the same core, the same
 * `{ code, message }` answers, 413 over the body limit (then the connection is closed, the rest of the body unread),
 * nothing from the request logged; Node's parser errors and timeouts reach the service's client-error handler as
 * before (test/hostile.test.ts, test/fuzz.property.test.ts go through this route).
 */

/** Takes a request if it is a webhook POST (and returns true), or leaves it to the caller (false). */
export type Route = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * The webhook POST served from `node:http`: reads the body within `sync.bodyLimit`, hands it to `sync.handle`,
 * writes the answer with one `writeHead` and one `end`. `closing` says that the service is shutting down: the
 * answer then closes its connection, as Fastify's do.
 */
export function webhookRoute(sync: ClerkUserSync, closing: () => boolean, path = WEBHOOK_PATH): Route {
  const limit = sync.bodyLimit;
  const withQuery = `${path}?`;

  function answer(request: IncomingMessage, response: ServerResponse, answer: SyncResponse, close = false) {
    // The connection is gone, or already answered and closing (the service's client-error handler refused the
    // request's bytes, a body too slow, say, and logged that): no one to answer, nothing more to log or count.
    const socket = request.socket;
    if (socket.destroyed || socket.writableEnded || response.headersSent) return;
    const headers: Record<string, string> = Object.assign({}, answer.headers);
    headers["content-length"] = String(Buffer.byteLength(answer.body));
    if (close || closing()) headers.connection = "close";
    response.writeHead(answer.status, headers);
    response.end(answer.body);
  }

  function refuse(request: IncomingMessage, response: ServerResponse, error: unknown, close = false) {
    const socket = request.socket;
    if (socket.destroyed || socket.writableEnded) return;
    answer(request, response, sync.refuse(error), close);
  }

  return (request, response) => {
    const url = request.url ?? "";
    if (request.method !== "POST" || (url !== path && !url.startsWith(withQuery))) return false;
    // Over the limit by its declared length: refused before a byte is read, the connection closed (the client may
    // still be sending).
    if (Number(request.headers["content-length"]) > limit) {
      refuse(request, response, payloadTooLarge(), true);
      request.resume();
      return true;
    }
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        request.resume();
        refuse(request, response, payloadTooLarge(), true);
        return;
      }
      if (first === undefined) first = chunk;
      else if (more === undefined) more = [first, chunk];
      else more.push(chunk);
    };
    const onEnd = () => {
      stop();
      const body = more ? Buffer.concat(more, size) : (first ?? EMPTY);
      sync.handle({ body, headers: request.headers }).then(
        (result) => answer(request, response, result),
        (error: unknown) => refuse(request, response, error),
      );
    };
    // Stays attached: a request that breaks off after its answer was decided is ignored, not an uncaught error.
    const onError = (error: unknown) => {
      if (settled) return;
      stop();
      refuse(request, response, error);
    };
    let settled = false;
    const stop = () => {
      settled = true;
      request.off("data", onData);
      request.off("end", onEnd);
    };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    return true;
  };
}

const EMPTY = Buffer.alloc(0);
