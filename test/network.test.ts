import { describe, expect, it } from "vitest";
import { networkReason, retryAfter } from "../src/network.js";

// The one reading of a failed fetch and of `Retry-After` that the backfill, the read-through and `trigger` share.
describe("networkReason", () => {
  it("names a timeout, and a socket error by its code", () => {
    expect(networkReason(new DOMException("late", "TimeoutError"))).toBe("timeout");
    expect(networkReason(new DOMException("aborted", "AbortError"))).toBe("timeout");
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
    });
    expect(networkReason(refused)).toBe("network error ECONNREFUSED");
    expect(networkReason(new TypeError("fetch failed"))).toBe("network error");
  });
});

describe("retryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads seconds and HTTP dates, in milliseconds from now", () => {
    expect(retryAfter(" 7 ", now)).toBe(7000);
    expect(retryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(retryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });
  it("is undefined when absent or unreadable (each caller picks its own default)", () => {
    expect(retryAfter(null, now)).toBeUndefined();
    expect(retryAfter("soon", now)).toBeUndefined();
    expect(retryAfter("", now)).toBeUndefined();
  });
});
