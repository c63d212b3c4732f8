import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { EVENT_TYPES } from "../decode.js";
import type { Observer } from "../sync.js";

/** The service's Prometheus metrics and the {@link Observer} that feeds them. */
export interface Metrics {
  registry: Registry;
  observer: Observer;
}

/**
 * Creates a registry with process metrics and the delivery metrics:
 * `clerk_user_sync_deliveries_total{environment,type,outcome}`,
 * `clerk_user_sync_signature_failures_total{reason}`, `clerk_user_sync_refusals_total{code}`, `clerk_user_sync_request_duration_seconds{outcome}` and
 * `clerk_user_sync_db_write_duration_seconds{result}` (one observation per transaction, with its batch size in
 * `clerk_user_sync_db_write_batch_size`).
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const deliveries = new Counter({
    name: "clerk_user_sync_deliveries_total",
    help: "Webhook deliveries answered, by environment, event type and outcome (error: any non-2xx).",
    labelNames: ["environment", "type", "outcome"] as const,
    registers: [registry],
  });
  const signatureFailures = new Counter({
    name: "clerk_user_sync_signature_failures_total",
    help: "Deliveries refused because no secret verified them, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const refusals = new Counter({
    name: "clerk_user_sync_refusals_total",
    help: "Error answers on every route, by code (the codes of the HTTP contract), including requests refused before routing.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: "clerk_user_sync_request_duration_seconds",
    help: "Time from reading a delivery to its answer.",
    labelNames: ["outcome"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const writeDuration = new Histogram({
    name: "clerk_user_sync_db_write_duration_seconds",
    help: "Duration of each database transaction that applies a batch of deliveries.",
    labelNames: ["result"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: "clerk_user_sync_db_write_batch_size",
    help: "Deliveries committed per transaction (group commit).",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [registry],
  });
  return {
    registry,
    observer: {
      delivery({ environment, type, outcome }, seconds) {
        // Unknown types are bounded to one label value: the label set must not grow with what senders invent.
        const known = type === "unknown" || EVENT_TYPES.includes(type) ? type : "other";
        deliveries.inc({ environment, type: known, outcome });
        requestDuration.observe({ outcome }, seconds);
      },
      refusal({ code }) {
        refusals.inc({ code });
      },
      signatureFailure(reason) {
        signatureFailures.inc({ reason });
      },
      write(size, seconds, ok) {
        writeDuration.observe({ result: ok ? "committed" : "failed" }, seconds);
        batchSize.observe(size);
      },
    },
  };
}
