import type { IncomingMessage, ServerResponse } from "node:http";
import { declaredOver, readNodeBody } from "../body.js";
import { BadRequestError, RawBodyUnavailableError, SyncError } from "../errors.js";
import { errorResponse, methodNotAllowed, payloadTooLarge } from "../response.js";
import { type ClerkUserSync, type SyncResponse, WEBHOOK_PATH } from "../sync.js";

/** Options of {@link clerkUserSyncExpress}. */
export interface ClerkUserSyncExpressOptions {
  /** The path it answers, relative to where it is mounted (`/api/user/webhook/clerk`). */
  path?: string;
}

/**
 * An Express (4.21+ or 5) middleware; typed over Node's own request and response so that it needs no Express
 * types, and it also works as a plain `node:http` handler.
 */
export type ClerkUserSyncMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** What a body parser that ran first may have left on the request. */
interface ParsedRequest extends IncomingMessage {
  /** Set by `express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })`. */
  rawBody?: unknown;
  /** A Buffer when `express.raw()` ran; anything else is a parsed value we must not re-serialise. */
  body?: unknown;
  /** body-parser 1.x (Express 4) marks a request it has read. */
  _body?: unknown;
}

const MISORDERED =
  "a body parser read the request before clerk-user-sync could: mount clerkUserSyncExpress before " +
  "express.json(), or keep the raw bytes with express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })";

/**
 * Mounts the webhook on an Express app. It answers `POST <path>` only and passes everything else on with
 * `next()`. It reads the raw bytes from the request stream itself (route-scoped, within `sync.bodyLimit`), so
 * mounted before `express.json()` it needs nothing else. Mounted after a body parser it uses `req.rawBody` when
 * the parser kept it; otherwise it answers 500 `raw_body_unavailable` and warns once, since verifying a
 * re-serialised body would refuse every genuine delivery.
 *
 * @example
 * ```ts
 * import { clerkUserSyncExpress } from "clerk-user-sync/express";
 * app.use(clerkUserSyncExpress(sync)); // before app.use(express.json())
 * app.use(express.json());
 * ```
 */
export function clerkUserSyncExpress(
  sync: ClerkUserSync,
  options: ClerkUserSyncExpressOptions = {},
): ClerkUserSyncMiddleware {
  const path = options.path ?? WEBHOOK_PATH;
  let warned = false;

  async function answer(req: ParsedRequest): Promise<SyncResponse> {
    try {
      const body = await rawBody(req, sync.bodyLimit);
      if (body === undefined) {
        if (!warned) {
          warned = true;
          sync.logger.warn({ path }, MISORDERED);
        }
        // Logged once above, not on every delivery: the fix is the same for all of them.
        return errorResponse(new RawBodyUnavailableError(MISORDERED));
      }
      return await sync.handle({ body, headers: req.headers });
    } catch (error) {
      return sync.refuse(error);
    }
  }

  return (req, res, next) => {
    if (pathname(req.url) !== path) {
      next();
      return;
    }
    if (req.method !== "POST") {
      send(res, methodNotAllowed());
      return;
    }
    answer(req).then((response) => send(res, response), next);
  };
}

/** The untouched bytes of the body, or undefined when a parser consumed them without keeping them. */
async function rawBody(req: ParsedRequest, limit: number): Promise<string | Uint8Array | undefined> {
  const kept = typeof req.rawBody === "string" || req.rawBody instanceof Uint8Array ? req.rawBody : undefined;
  const body = kept ?? (alreadyRead(req) ? rawParsedBody(req) : await readStream(req, limit));
  if (body !== undefined && byteLength(body) > limit) throw payloadTooLarge();
  return body;
}

/** A parser can only have the bytes by reading the stream, so the stream's state is what tells. */
function alreadyRead(req: ParsedRequest): boolean {
  return req.readableDidRead || req.readableEnded || req._body === true;
}

function rawParsedBody(req: ParsedRequest): Uint8Array | undefined {
  return req.body instanceof Uint8Array ? req.body : undefined;
}

async function readStream(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  // Refused before reading: Node discards the unread body once the response is sent.
  if (declaredOver(req.headers["content-length"], limit)) throw payloadTooLarge();
  try {
    return await readNodeBody(req, limit);
  } catch (error) {
    throw error instanceof SyncError ? error : new BadRequestError("the request could not be read");
  }
}

function send(res: ServerResponse, response: SyncResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(response.body);
}

/** Express rewrites `req.url` relative to the mount point, so this is the path the app mounted us under. */
function pathname(url = ""): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
}
