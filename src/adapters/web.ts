import { BodyCollector, declaredOver } from "../body.js";
import { BadRequestError, NotFoundError, RawBodyUnavailableError, SyncError } from "../errors.js";
import { errorResponse, methodNotAllowed, payloadTooLarge, webResponse } from "../response.js";
import type { ClerkUserSync } from "../sync.js";

/** Options of {@link toWebHandler}. */
export interface WebHandlerOptions {
  /**
   * The only path answered; any other gets a 404. Omit it where the framework routes by itself (a Next.js
   * route file, `app.post(path, …)` in Hono): then every path is taken.
   */
  path?: string;
}

/** A Fetch-API handler: what Next.js route handlers, Hono, Bun and Deno speak. */
export type WebHandler = (request: Request) => Promise<Response>;

/**
 * The webhook as a `Request → Response` function. It reads the raw bytes itself, within `sync.bodyLimit`,
 * and answers exactly as the service does.
 *
 * @example
 * ```ts
 * // app/api/user/webhook/clerk/route.ts (Next.js App Router)
 * import { toWebHandler } from "clerk-user-sync/web";
 * export const runtime = "nodejs";
 * export const POST = toWebHandler(sync);
 *
 * // Hono
 * const handler = toWebHandler(sync);
 * app.post("/api/user/webhook/clerk", (c) => handler(c.req.raw));
 * ```
 */
export function toWebHandler(sync: ClerkUserSync, options: WebHandlerOptions = {}): WebHandler {
  const { path } = options;
  return async (request) => {
    if (path !== undefined) {
      const requested = new URL(request.url).pathname;
      if (requested !== path) {
        return webResponse(errorResponse(new NotFoundError(`no route for ${request.method} ${requested}`)));
      }
    }
    if (request.method !== "POST") {
      return webResponse(methodNotAllowed());
    }
    let body: Uint8Array;
    try {
      body = await readBody(request, sync.bodyLimit);
    } catch (error) {
      return webResponse(sync.refuse(error));
    }
    return webResponse(await sync.handle({ body, headers: request.headers }));
  };
}

/** The body's bytes, refused as soon as they exceed `limit`, so a huge upload is never held in memory. */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  if (declaredOver(request.headers.get("content-length"), limit)) throw payloadTooLarge();
  if (request.bodyUsed) {
    throw new RawBodyUnavailableError(
      "the request body was read before clerk-user-sync could: pass it the untouched Request",
    );
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const body = new BodyCollector(limit);
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (!body.add(chunk.value)) {
        await reader.cancel().catch(() => {});
        throw payloadTooLarge();
      }
    }
  } catch (error) {
    throw error instanceof SyncError ? error : new BadRequestError("the request could not be read");
  }
  return body.bytes();
}
