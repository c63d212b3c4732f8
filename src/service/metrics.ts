import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Database } from "../db/database.js";
import { EVENT_TYPES } from "../decode.js";
import { type Freshness, readFreshness } from "../freshness.js";
import type { Observer } from "../sync.js";
import type { Environment } from "../verify.js";

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

/**
 * Adds the freshness gauges to `registry`, read from the database at each scrape (so that they survive restarts
 * and agree across instances), per environment:
 * `clerk_user_sync_last_delivery_timestamp_seconds` (the newest verified delivery; 0 when the log holds none),
 * `clerk_user_sync_users`, `clerk_user_sync_last_reconcile_timestamp_seconds` (the newest successful reconcile's
 * end; absent before one), `clerk_user_sync_last_reconcile_succeeded` (1 or 0, of the newest finished run) and
 * `clerk_user_sync_reconcile_drift{kind}` (`created`, `updated`, `deleted`: what the newest finished run repaired).
 * A scrape that cannot read the database leaves them out rather than failing `/metrics`.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * watchFreshness(metrics.registry, sync.database);
 * ```
 */
export function watchFreshness(registry: Registry, db: Database): void {
  let read: { at: number; value: Promise<Record<Environment, Freshness> | null> } | undefined;
  // Every gauge collects at once during a scrape: they share one read.
  const fresh = () => {
    if (!read || Date.now() - read.at > 1000)
      read = { at: Date.now(), value: readFreshness(db).catch(() => null) };
    return read.value;
  };
  const gauge = (
    name: string,
    help: string,
    set: (g: Gauge<string>, environment: Environment, f: Freshness) => void,
    labelNames: string[] = ["environment"],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const all = await fresh();
        if (all) for (const [environment, f] of Object.entries(all)) set(this, environment as Environment, f);
      },
    });
  const seconds = (iso: string) => Date.parse(iso) / 1000;
  gauge(
    "clerk_user_sync_last_delivery_timestamp_seconds",
    "When the newest verified delivery of the instance was received (Unix seconds; 0: none in the delivery log).",
    (g, environment, f) => g.set({ environment }, f.lastDelivery ? seconds(f.lastDelivery) : 0),
  );
  gauge("clerk_user_sync_users", "Users stored for the instance.", (g, environment, f) =>
    g.set({ environment }, f.users),
  );
  gauge(
    "clerk_user_sync_last_reconcile_timestamp_seconds",
    "When the newest successful reconcile of the instance finished (Unix seconds).",
    (g, environment, f) => {
      if (f.lastSucceededReconcile) g.set({ environment }, seconds(f.lastSucceededReconcile));
    },
  );
  gauge(
    "clerk_user_sync_last_reconcile_succeeded",
    "Whether the newest finished reconcile of the instance succeeded (1) or failed (0).",
    (g, environment, f) => {
      if (f.lastReconcile) g.set({ environment }, f.lastReconcile.outcome === "succeeded" ? 1 : 0);
    },
  );
  gauge(
    "clerk_user_sync_reconcile_drift",
    "What the newest finished reconcile repaired: rows created (deliveries that never arrived), updated, deleted.",
    (g, environment, f) => {
      const run = f.lastReconcile;
      if (!run) return;
      for (const kind of ["created", "updated", "deleted"] as const)
        g.set({ environment, kind }, run[kind] ?? 0);
    },
    ["environment", "kind"],
  );
}
