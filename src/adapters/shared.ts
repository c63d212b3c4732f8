import {
  BadRequestError,
  InternalError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  SyncError,
} from "../errors.js";
import type { SyncResponse } from "../sync.js";

/** The response for an error raised by a framework before the core saw the request (body too large, …). */
export function errorResponse(error: unknown): SyncResponse {
  const status = statusOf(error);
  const failure =
    error instanceof SyncError
      ? error
      : status === 413
        ? payloadTooLarge()
        : status !== undefined && status >= 400 && status < 500
          ? new BadRequestError("the request could not be read")
          : new InternalError({ cause: error });
  return {
    status: failure.status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ code: failure.code, message: failure.message }),
  };
}

/** The webhook's answer to any method but POST: 405 with `Allow: POST`, from every adapter alike. */
export function methodNotAllowed(): SyncResponse {
  const response = errorResponse(new MethodNotAllowedError());
  return { ...response, headers: { ...response.headers, allow: "POST" } };
}

/**
 * The one 413 every adapter gives, whether the framework or the adapter noticed the size, so that all of them
 * answer an oversize delivery alike.
 */
export function payloadTooLarge(): PayloadTooLargeError {
  return new PayloadTooLargeError("the body exceeds the configured limit");
}

function statusOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown; status?: unknown } | null;
  const status = e?.statusCode ?? e?.status;
  return typeof status === "number" ? status : undefined;
}
