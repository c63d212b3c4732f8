import type { IncomingMessage, ServerResponse } from "node:http";
import { declaredOver, readNodeBody } from "../body.js";
import { PayloadTooLargeError } from "../errors.js";
import { payloadTooLarge, type SyncResponse } from "../response.js";
import { type ClerkUserSync, WEBHOOK_PATH } from "../sync.js";

/*
 * Why this module exists: the service's one hot route, `POST /api/user/webhook/clerk`, is answered straight from
 * `node:http` instead of through Fastify. The core is framework-free, and between the socket and `sync.handle`
 * Fastify adds its request and reply objects, its async hooks, its content-type parser and its reply serialisation,
 * a cost paid on every delivery (docs/performance.md has the figures). Everything else (other methods on this path,
 * health, metrics, the console, 404s, a request without the Host HTTP/1.1 requires) goes through Fastify, which the
 * library's users mount too (src/adapters/fastify.ts). This route answers exactly as that plugin does: the same
 * core, the same `{ code, message }` answers, 413 over the body limit (then the connection is closed, the rest of
 * the body unread), nothing from the request logged; Node's parser errors and timeouts reach the service's
 * client-error handler (test/hostile.test.ts, test/fuzz.property.test.ts go through this route).
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
    if (declaredOver(request.headers["content-length"], limit)) {
      refuse(request, response, payloadTooLarge(), true);
      request.resume();
      return true;
    }
    readNodeBody(request, limit).then(
      (body) =>
        sync.handle({ body, headers: request.headers }).then(
          (result) => answer(request, response, result),
          (error: unknown) => refuse(request, response, error),
        ),
      // Over the limit while reading: the rest is not read, so the connection is closed.
      (error: unknown) => refuse(request, response, error, error instanceof PayloadTooLargeError),
    );
    return true;
  };
}
