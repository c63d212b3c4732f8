import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ClerkApiError, IncompleteListingError, PruneRefusedError } from "../src/backfill/errors.js";
import * as errors from "../src/errors.js";
import { CATALOGUE, type ErrorCode, SyncError } from "../src/errors.js";
import { errorResponse, httpStatus } from "../src/response.js";

/** The rows of the one table of codes in the README's "The HTTP contract" section: code → its status column. */
function readmeCodes(): Map<string, string> {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("## The HTTP contract");
  const section = readme.slice(readme.indexOf("\n| code ", start), readme.indexOf("\n## ", start + 1));
  const rows = [...section.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*([^|]+?)\s*\|/gm)];
  return new Map(rows.map((m) => [m[1] as string, (m[2] as string).trim()]));
}

describe("the error catalogue", () => {
  const documented = readmeCodes();

  it("is documented whole in the README's table, with the same status or exit code", () => {
    const expected = Object.entries(CATALOGUE).map(([code, entry]) => [
      code,
      "status" in entry ? String(entry.status) : `exit ${entry.exit}`,
    ]);
    expect([...documented].sort()).toEqual(expected.sort());
  });

  // One instance of every subclass under the base: the webhook's and service's, the CLI's and the backfill's.
  const instances: SyncError[] = [
    new errors.MissingHeadersError("m"),
    new errors.InvalidSignatureError("m", "no_match"),
    new errors.PayloadTooLargeError("m"),
    new errors.InvalidPayloadError("m"),
    new errors.FieldTooLongError("m"),
    new errors.UnstorablePayloadError("m"),
    new errors.StorageUnavailableError(),
    new errors.RawBodyUnavailableError("m"),
    new errors.BadRequestError("m"),
    new errors.UnauthorizedError("m"),
    new errors.NotFoundError("m"),
    new errors.ConsoleDisabledError(),
    new errors.MethodNotAllowedError(),
    new errors.RequestTimeoutError("m"),
    new errors.HeadersTooLargeError("m"),
    new errors.NotReadyError("m"),
    new errors.InternalError(),
    new errors.ShuttingDownError(),
    new errors.ConfigError(["p"]),
    new errors.UsageError("m"),
    new errors.DatabaseUnreachableError("m"),
    new errors.PortInUseError("m"),
    new ClerkApiError("clerk_unauthorized", "m", 401),
    new ClerkApiError("clerk_unavailable", "m"),
    new ClerkApiError("clerk_request_failed", "m", 404),
    new ClerkApiError("clerk_bad_response", "m"),
    new ClerkApiError("clerk_api_inconsistent", "m"),
    new ClerkApiError("clerk_organizations_disabled", "m", 403),
    new PruneRefusedError("production", 5, 6, 0.5),
    new IncompleteListingError("memberships", 9, 10, 9),
  ];

  it("has a subclass of SyncError for every code", () => {
    const exported = Object.values(errors).filter(
      (value) => typeof value === "function" && value.prototype instanceof SyncError,
    );
    expect(instances.filter((i) => Object.values(errors).includes(i.constructor as never))).toHaveLength(
      exported.length,
    );
    const covered = new Set(instances.map((i) => i.code));
    expect(Object.keys(CATALOGUE).filter((code) => !covered.has(code as ErrorCode))).toEqual([]);
  });

  it.each(instances.map((failure) => ({ failure, code: failure.code })))(
    "answers $code with its catalogued status and { code, message }",
    ({ failure }) => {
      expect(failure).toBeInstanceOf(SyncError);
      const response = errorResponse(failure);
      const entry = CATALOGUE[failure.code] as { status?: number };
      expect(response.status).toBe(entry.status ?? 500);
      expect(httpStatus(failure.code)).toBe(response.status);
      expect(JSON.parse(response.body)).toEqual({ code: failure.code, message: failure.message });
    },
  );

  it.each([
    { error: Object.assign(new Error("x"), { code: "HPE_INVALID_CONTENT_LENGTH" }), code: "bad_request" },
    { error: Object.assign(new Error("x"), { code: "HPE_HEADER_OVERFLOW" }), code: "headers_too_large" },
    { error: Object.assign(new Error("x"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }), code: "request_timeout" },
    { error: Object.assign(new Error("x"), { statusCode: 413 }), code: "payload_too_large" },
    { error: Object.assign(new Error("x"), { statusCode: 415 }), code: "bad_request" },
    { error: new Error("boom"), code: "internal_error" },
  ])("maps a framework's or Node's error to $code", ({ error, code }) => {
    const response = errorResponse(error);
    expect(response.code).toBe(code);
    expect(JSON.parse(response.body)).toEqual({ code, message: expect.any(String) });
    expect(response.body).not.toContain("boom");
  });
});
