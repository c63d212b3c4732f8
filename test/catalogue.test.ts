import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ClerkApiError, PruneRefusedError } from "../src/backfill/errors.js";
import * as errors from "../src/errors.js";
import { CATALOGUE, type ErrorCode, exitCode, SyncError } from "../src/errors.js";
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
    new errors.CommandFailedError("m"),
    new ClerkApiError("clerk_unauthorized", "m", 401),
    new ClerkApiError("clerk_unavailable", "m"),
    new ClerkApiError("clerk_request_failed", "m", 404),
    new ClerkApiError("clerk_bad_response", "m"),
    new ClerkApiError("clerk_api_inconsistent", "m"),
    new PruneRefusedError({
      reason: "too_many",
      environment: "production",
      resource: "users",
      candidates: 5,
      local: 6,
      maxShare: 0.5,
    }),
    new PruneRefusedError({
      reason: "incomplete_listing",
      resource: "memberships",
      seen: 9,
      totalAtStart: 10,
      totalAtEnd: 9,
    }),
  ];

  it("gives each code one class: callers tell failures apart by code alone", () => {
    const classes = new Map<ErrorCode, Set<unknown>>();
    for (const failure of instances) {
      classes.set(failure.code, (classes.get(failure.code) ?? new Set()).add(failure.constructor));
    }
    const shared = [...classes].filter(([, set]) => set.size > 1).map(([code]) => code);
    expect(shared).toEqual([]);
  });

  it("holds failures only: an outcome that is not one (exit 0) lives outside it", () => {
    const zero = Object.entries(CATALOGUE as Record<string, { exit?: number }>).filter(
      ([, e]) => e.exit === 0,
    );
    expect(zero).toEqual([]);
  });

  it("gives the CLI every exit code: each code's own, command_failed's for an HTTP code", () => {
    for (const [code, entry] of Object.entries(CATALOGUE) as [ErrorCode, { exit?: number }][]) {
      expect(exitCode(code), code).toBe(entry.exit ?? CATALOGUE.command_failed.exit);
    }
    expect([
      exitCode("invalid_config"),
      exitCode("invalid_arguments"),
      exitCode("storage_unavailable"),
    ]).toEqual([78, 2, 1]);
  });

  it("is where every CLI exit code comes from: no command returns, assigns or exits with a number of its own but 0", () => {
    const cli = new URL("../src/cli/", import.meta.url).pathname;
    // serve.ts included: it exits from its signal handlers, outside a command's result.
    const files = readdirSync(cli).filter((f) => f.endsWith(".ts"));
    expect(files).toContain("serve.ts");
    const hardCoded = files.flatMap((file) =>
      [...readFileSync(join(cli, file), "utf8").matchAll(/(return|\?|:|=)\s+[1-9]\d*\s*;|exit\([1-9]/g)].map(
        (m) => `${file}: ${m[0]}`,
      ),
    );
    expect(hardCoded).toEqual([]);
  });

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
