import type { FastifyReply } from "fastify";
import {
  BadRequestError,
  CATALOGUE,
  type ErrorCode,
  HeadersTooLargeError,
  InternalError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RequestTimeoutError,
  SyncError,
} from "./errors.js";

/**
 * The respond step: what every route answers, whatever the framework. Success bodies are `{ status, … }`, failure
 * bodies `{ code, message }`, always JSON; the HTTP status of a failure comes from its code, here and nowhere else.
 */

/** The answer to send back, whatever the framework. `body` is JSON text. */
export interface SyncResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A failure as answered: its response, and the code it carries (for logs and metrics). */
export interface FailureResponse extends SyncResponse {
  code: ErrorCode;
}

const JSON_TYPE = "application/json; charset=utf-8";

/** A 2xx (or any status) with a JSON body. */
export function jsonResponse(status: number, body: object): SyncResponse {
  return { status, headers: { "content-type": JSON_TYPE }, body: JSON.stringify(body) };
}

/**
 * An answer as a Fetch-API `Response`, for the handlers that speak `Request → Response` (the Web and Next.js
 * adapters).
 *
 * @example
 * ```ts
 * return webResponse(methodNotAllowed()); // 405 with Allow: POST
 * ```
 */
export function webResponse({ status, headers, body }: SyncResponse): Response {
  return new Response(body, { status, headers });
}

/**
 * An answer through a Fastify reply (the Fastify adapter, the service's routes, the console): its status, its
 * headers (`content-type` included) and its body, as they are.
 */
export function fastifyReply(reply: FastifyReply, { status, headers, body }: SyncResponse): FastifyReply {
  return reply.code(status).headers(headers).send(body);
}

/** The HTTP status of a code; a code with no HTTP status (a CLI exit) is a failure of ours: 500. */
export function httpStatus(code: ErrorCode): number {
  const entry = CATALOGUE[code] as { status?: number };
  return entry.status ?? 500;
}

/**
 * The `{ code, message }` answer to any error: a {@link SyncError} as it is; a framework's or Node's error by its
 * status or code (413, 408, 431, any other 4xx or parser error: 400); anything else as 500 `internal_error`, its cause kept
 * server-side. `message`, when given, is what the client reads instead of the error's own (written for an operator's
 * log, a `ConfigError`'s list of settings, say).
 *
 * @example
 * ```ts
 * errorResponse(new NotFoundError("no route for GET /x")) // { status: 404, code: "not_found", … }
 * ```
 */
export function errorResponse(error: unknown, message?: string): FailureResponse {
  const failure = toSyncError(error);
  const response = jsonResponse(httpStatus(failure.code), {
    code: failure.code,
    message: message ?? failure.message,
  });
  return failure instanceof MethodNotAllowedError
    ? { ...response, headers: { ...response.headers, allow: "POST" }, code: failure.code }
    : { ...response, code: failure.code };
}

/** The webhook's answer to any method but POST: 405 with `Allow: POST`, from every adapter alike. */
export function methodNotAllowed(): FailureResponse {
  return errorResponse(new MethodNotAllowedError());
}

/**
 * The one 413 every adapter gives, whether the framework or the adapter noticed the size, so that all of them
 * answer an oversize delivery alike.
 */
export function payloadTooLarge(): PayloadTooLargeError {
  return new PayloadTooLargeError("the body exceeds the configured limit");
}

/** An error from a framework or from Node's HTTP parser, as a failure of the catalogue. */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const e = error as { statusCode?: unknown; status?: unknown; code?: unknown } | null;
  const status = e?.statusCode ?? e?.status;
  const code = typeof e?.code === "string" ? e.code : "";
  if (status === 413 || code === "FST_ERR_CTP_BODY_TOO_LARGE") return payloadTooLarge();
  if (status === 431 || code === "HPE_HEADER_OVERFLOW") {
    return new HeadersTooLargeError("the request's headers are too large");
  }
  if (status === 408 || code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return new RequestTimeoutError("the request did not arrive in time");
  }
  if ((typeof status === "number" && status >= 400 && status < 500) || code.startsWith("HPE_")) {
    return new BadRequestError("the request could not be read");
  }
  return new InternalError({ cause: error });
}
