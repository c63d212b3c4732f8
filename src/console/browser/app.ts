// The console's script: plain DOM, no framework, no inline anything (the CSP allows none). Data goes into the
// page with textContent only. Type-checked against the DOM (./tsconfig.json); served as the string that
// scripts/generate-console-script.mjs writes to ../script.generated.ts.

type Environment = "development" | "production";
type Outcome = (typeof OUTCOMES)[number];
type Attributes = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined;

/** What the console's JSON API answers (src/console/plugin.ts). */
interface Delivery {
  receivedAt: string;
  environment: Environment;
  type: string;
  outcome: string;
  subject: string | null;
  svixId: string;
  eventTimestamp: string | null;
}
interface Refusal {
  at: string;
  code: string;
  status: number;
  environment: Environment | null;
  type: string | null;
  svixId: string | null;
}
interface Setup {
  access: { mode: "local" | "token"; host: string | null; loopbackOnly: boolean };
  webhookUrl: string;
  webhookUrlNote: string | null;
  instances: { environment: Environment; configured: boolean }[];
  database: string;
  examples: string[];
}
interface Reconcile {
  finishedAt: string;
  outcome: "succeeded" | "failed";
  created: number | null;
  updated: number | null;
  deleted: number | null;
  errorCode: string | null;
}
interface Freshness {
  lastDelivery: string | null;
  lastReconcile: Reconcile | null;
  stale: boolean;
}
type Bucket = { at: string } & Record<Outcome, number>;
interface Chart {
  range: "hour" | "day";
  bucketMs: number;
  buckets: Bucket[];
}
interface Summary {
  tables: string[];
  counts: Record<Environment, Record<string, number>>;
  chart: Chart;
  lastErrors: Refusal[];
  freshness?: { staleAfterMs: number; instances: Record<Environment, Freshness> };
}
interface PayerBilling {
  plan: Record<string, unknown> | null;
  items: Record<string, unknown>[];
}
/** A user lookup's `users`, or an organization lookup's `organizations`, with their Billing by Clerk id. */
interface Lookup {
  users?: Record<string, unknown>[];
  organizations?: Record<string, unknown>[];
  tombstone: { deletedAt: string } | null;
  billing: Record<string, PayerBilling>;
}
interface SentExample {
  svixId: string;
  userId: string;
  status: number;
  answer: { status?: string; code?: string };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const POLL_MS = 1000;
const SUMMARY_MS = 5000;
const OUTCOMES = ["applied", "duplicate", "stale", "ignored", "refused"] as const;
const KNOWN_TYPES = [
  "user.created",
  "user.updated",
  "user.deleted",
  "organization.created",
  "organization.updated",
  "organization.deleted",
  "organizationMembership.created",
  "organizationMembership.updated",
  "organizationMembership.deleted",
  "subscription.created",
  "subscriptionItem.active",
  "subscriptionItem.canceled",
  "subscriptionItem.ended",
  "paymentAttempt.created",
];
const TABLE_LABELS: Record<string, string> = {
  users: "Users",
  user_tombstones: "Deleted users (tombstones)",
  organizations: "Organizations",
  organization_tombstones: "Deleted organizations",
  organization_memberships: "Memberships",
  organization_membership_tombstones: "Deleted memberships",
  billing_subscriptions: "Billing subscriptions",
  billing_plans: "Billing plans",
};
const SVG = "http://www.w3.org/2000/svg";

class Unauthorized extends Error {}

/** A console API answer that is not 2xx: its catalogued code and HTTP status. */
class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number,
  ) {
    super(message);
  }
}

const state = {
  paused: false,
  latest: [] as Delivery[],
  older: [] as Delivery[],
  olderCursor: null as string | null,
  firstCursor: null as string | null,
  seen: new Set<string>(),
  primed: false,
  shown: null as string | null,
  types: new Set(KNOWN_TYPES),
  timers: [] as number[],
};

async function api<T>(path: string, options: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = options;
  const init: RequestInit = { credentials: "same-origin", headers: { accept: "application/json" }, ...rest };
  if (json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { ...init.headers, "content-type": "application/json" };
    init.body = JSON.stringify(json);
  }
  const res = await fetch(path, init);
  const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  if (res.status === 401 && !path.endsWith("/session")) throw new Unauthorized(body.message || "sign in");
  if (!res.ok) throw new ApiError(body.message || `HTTP ${res.status}`, body.code, res.status);
  return body as T;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function el(tag: string, attrs: Attributes = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function time(iso: string | null, { date = false } = {}): HTMLElement {
  if (!iso) return el("span", { class: "muted" }, "—");
  const d = new Date(iso);
  const text = date
    ? d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })
    : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return el("time", { datetime: iso, title: d.toString() }, text);
}

const badge = (outcome: string) => el("span", { class: `badge ${outcome}` }, outcome);
const env = (environment: Environment | null) =>
  environment
    ? el("span", { class: `env ${environment}` }, environment)
    : el("span", { class: "muted" }, "—");
const mono = (text: string | null) => el("td", { class: "mono", title: text || undefined }, text || "—");

function emptyRow(columns: number, text: string): HTMLElement {
  return el("tr", { class: "empty" }, el("td", { colspan: columns }, text));
}

// ---------- access

function showSignIn(message?: string): void {
  stop();
  $("loading").hidden = true;
  $("app").hidden = true;
  $("live").hidden = true;
  $("pause").hidden = true;
  $("sign-out").hidden = true;
  $("access").textContent = "Sign-in required";
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("token").focus();
}

$<HTMLFormElement>("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = (event.submitter ||
    $<HTMLFormElement>("sign-in-form").querySelector("button")) as HTMLButtonElement;
  const token = $<HTMLInputElement>("token");
  button.disabled = true;
  try {
    await api("/console/api/session", { json: { token: token.value } });
    token.value = "";
    $("sign-in").hidden = true;
    await start();
  } catch (error) {
    $("sign-in-error").textContent =
      error instanceof ApiError && error.code === "unauthorized"
        ? "That token is not the console token."
        : messageOf(error);
    token.select();
    token.focus();
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("/console/api/session", { method: "DELETE" }).catch(() => {});
  showSignIn("Signed out.");
});

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").setAttribute("aria-pressed", String(state.paused));
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  $("live").classList.toggle("paused", state.paused);
  $("live-text").textContent = state.paused ? "Paused" : "Live";
  if (!state.paused) void refresh();
});

// ---------- getting started

function renderSetup(setup: Setup): void {
  const access = $("access");
  access.classList.remove("warn");
  if (setup.access.mode === "local") {
    if (setup.access.loopbackOnly) {
      access.textContent = `Open without a token: listening on ${setup.access.host} only (this machine).`;
    } else {
      access.textContent = `Local run, open without a token on HOST=${setup.access.host}: anyone who reaches this port sees it. Set CONSOLE_TOKEN.`;
      access.classList.add("warn");
    }
  } else {
    access.textContent = `Signed in with CONSOLE_TOKEN · ${setup.database}`;
    $("sign-out").hidden = false;
  }
  $<HTMLInputElement>("webhook-url").value = setup.webhookUrl;
  $("url-note").textContent = setup.webhookUrlNote || "";
  $("url-note").hidden = !setup.webhookUrlNote;
  $("instances").replaceChildren(
    ...setup.instances.map((i) =>
      el(
        "li",
        { class: i.configured ? "on" : "" },
        (i.environment === "development" ? "Development" : "Production") +
          (i.configured ? ": secret configured" : ": no secret"),
      ),
    ),
  );
  $("examples").hidden = setup.examples.length === 0;
  $("example-buttons").replaceChildren(
    ...setup.examples.map((type) => {
      const button = el("button", { type: "button", "data-type": type }, `Send ${type}`) as HTMLButtonElement;
      button.addEventListener("click", () => sendExample(type, button));
      return button;
    }),
  );
}

$("copy-url").addEventListener("click", async () => {
  const input = $<HTMLInputElement>("webhook-url");
  try {
    await navigator.clipboard.writeText(input.value);
    $("copy-status").textContent = "Copied.";
  } catch {
    input.select();
    $("copy-status").textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
});

async function sendExample(type: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  const userId = $<HTMLInputElement>("example-user").value.trim();
  const result = $("example-result");
  try {
    const sent = await api<SentExample>(`/console/api/examples/${encodeURIComponent(type)}`, {
      json: userId ? { userId } : {},
    });
    const outcome = sent.answer.status || sent.answer.code;
    result.textContent = `${type} for ${sent.userId}: ${sent.status} ${outcome} (${sent.svixId})`;
    await refresh();
  } catch (error) {
    if (error instanceof Unauthorized) return showSignIn(error.message);
    result.textContent = `Not sent: ${messageOf(error)}`;
  } finally {
    button.disabled = false;
  }
}

// ---------- deliveries

function filters(): URLSearchParams {
  const form = new FormData($<HTMLFormElement>("filters"));
  const params = new URLSearchParams();
  for (const [name, value] of form) if (value) params.set(name, String(value));
  return params;
}

$("filters").addEventListener("change", () => {
  state.older = [];
  state.olderCursor = null;
  // Rows a filter brings back are not new arrivals.
  state.primed = false;
  void refreshDeliveries();
});

function deliveryKey(d: Delivery): string {
  return `${d.environment}/${d.svixId}`;
}

async function refreshDeliveries(): Promise<void> {
  const params = filters();
  params.set("limit", "50");
  const page = await api<{ deliveries: Delivery[]; nextCursor: string | null }>(
    `/console/api/deliveries?${params}`,
  );
  state.latest = page.deliveries;
  state.firstCursor = page.nextCursor;
  renderDeliveries();
}

$("more").addEventListener("click", async () => {
  const params = filters();
  params.set("limit", "50");
  const cursor = olderCursor();
  if (!cursor) return;
  params.set("cursor", cursor);
  const page = await api<{ deliveries: Delivery[]; nextCursor: string | null }>(
    `/console/api/deliveries?${params}`,
  );
  state.older = state.older.concat(page.deliveries);
  state.olderCursor = page.nextCursor;
  renderDeliveries();
});

function renderDeliveries(): void {
  const keys = new Set<string>();
  const rows: Delivery[] = [];
  for (const d of state.latest.concat(state.older)) {
    const key = deliveryKey(d);
    if (keys.has(key)) continue;
    keys.add(key);
    rows.push(d);
  }
  const signature = rows.map(deliveryKey).join(",");
  const primed = state.primed;
  state.primed = true;
  if (signature === state.shown) return;
  state.shown = signature;
  const fresh = primed ? rows.filter((d) => !state.seen.has(deliveryKey(d))) : [];
  for (const d of rows) {
    state.seen.add(deliveryKey(d));
    if (!state.types.has(d.type)) {
      state.types.add(d.type);
      renderTypeOptions();
    }
  }
  const freshKeys = new Set(fresh.map(deliveryKey));
  const body = $("delivery-rows");
  body.replaceChildren(
    ...(rows.length === 0
      ? [
          emptyRow(
            6,
            filters().size
              ? "No delivery matches these filters."
              : "No delivery yet. Send one from Clerk, or an example above.",
          ),
        ]
      : rows.map((d) =>
          el(
            "tr",
            { class: freshKeys.has(deliveryKey(d)) ? "new" : "", "data-svix-id": d.svixId },
            el("td", {}, time(d.receivedAt)),
            el("td", {}, env(d.environment)),
            el("td", {}, d.type),
            el("td", {}, badge(d.outcome)),
            mono(d.subject),
            mono(d.svixId),
          ),
        )),
  );
  announce(fresh, body);
  $("more").hidden = !olderCursor();
}

/** Tells screen readers about new rows, and lets their highlight fade after it was painted once. */
function announce(fresh: Delivery[], body: HTMLElement): void {
  const [first] = fresh;
  if (!first) return;
  $("live-status").textContent =
    fresh.length === 1 ? `New delivery: ${first.type}, ${first.outcome}.` : `${fresh.length} new deliveries.`;
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      for (const row of body.querySelectorAll("tr.new")) row.className = "seen";
    }),
  );
}

/** Where "Load older" continues: after the pages already loaded, or after the live first page. */
function olderCursor(): string | null {
  return state.older.length > 0 ? state.olderCursor : state.firstCursor;
}

function renderTypeOptions(): void {
  const select = $<HTMLFormElement>("filters").elements.namedItem("type") as HTMLSelectElement;
  const current = select.value;
  select.replaceChildren(
    el("option", { value: "" }, "All"),
    ...[...state.types].sort().map((t) => el("option", { value: t }, t)),
  );
  select.value = current;
}

// ---------- refusals

async function refreshRefusals(): Promise<void> {
  const { refusals } = await api<{ refusals: Refusal[] }>("/console/api/refusals?limit=100");
  const body = $("refusal-rows");
  const signature = refusals.map((r) => r.at + r.code).join(",");
  if (body.dataset.shown === signature) return;
  body.dataset.shown = signature;
  body.replaceChildren(
    ...(refusals.length === 0
      ? [emptyRow(4, "None since the service started.")]
      : refusals.map((r) =>
          el(
            "tr",
            { title: [r.environment, r.type].filter(Boolean).join(" · ") || undefined },
            el("td", {}, time(r.at)),
            el("td", {}, el("span", { class: "badge refused" }, String(r.status))),
            mono(r.code),
            mono(r.svixId),
          ),
        )),
  );
}

// ---------- at a glance

$("range").addEventListener("change", () => void refreshSummary());

async function refreshSummary(): Promise<void> {
  const summary = await api<Summary>(`/console/api/summary?range=${$<HTMLSelectElement>("range").value}`);
  renderCounts(summary);
  renderChart(summary.chart);
  $("last-errors").replaceChildren(
    ...(summary.lastErrors.length === 0
      ? [emptyRow(5, "No error since the service started.")]
      : summary.lastErrors.map((e) =>
          el(
            "tr",
            {},
            mono(e.code),
            el("td", {}, el("span", { class: "badge refused" }, String(e.status))),
            el("td", {}, time(e.at, { date: true })),
            el("td", {}, env(e.environment)),
            mono(e.svixId),
          ),
        )),
  );
}

function renderCounts({ tables, counts, freshness }: Summary): void {
  $("counts").replaceChildren(
    ...(["development", "production"] as const).map((environment) =>
      el(
        "div",
        { class: "card", "data-environment": environment },
        el("h3", {}, environment === "development" ? "Development" : "Production"),
        el(
          "dl",
          {},
          ...tables.flatMap((table) => [
            el("dt", {}, TABLE_LABELS[table] || table),
            el("dd", {}, (counts[environment][table] ?? 0).toLocaleString()),
          ]),
        ),
        ...(freshness ? renderFreshness(freshness.instances[environment], freshness.staleAfterMs) : []),
      ),
    ),
  );
}

// When the last delivery came, a warning past the threshold (a disabled endpoint looks like silence), and the last
// reconcile with the drift it repaired.
function renderFreshness(f: Freshness, staleAfterMs: number): HTMLElement[] {
  const last = f.lastDelivery
    ? el(
        "p",
        { class: "small freshness-delivery" },
        "Last delivery ",
        ago(f.lastDelivery),
        " (",
        time(f.lastDelivery, { date: true }),
        ")",
      )
    : el("p", { class: "small muted freshness-delivery" }, "No delivery in the log.");
  const nodes = [last];
  if (f.stale) {
    nodes.push(
      el(
        "p",
        { class: "small freshness-warning", role: "alert" },
        el("span", { class: "badge stale" }, `No delivery for over ${hours(staleAfterMs)}`),
        " while this instance has users: check the endpoint in Clerk's dashboard (Svix disables it after five days of failures).",
      ),
    );
  }
  const r = f.lastReconcile;
  nodes.push(
    r
      ? el(
          "p",
          { class: "small muted freshness-reconcile" },
          `Last reconcile ${r.outcome} `,
          ago(r.finishedAt),
          r.outcome === "failed" ? ` (${r.errorCode})` : "",
          `: repaired ${r.created} created, ${r.updated} updated${r.deleted === null ? "" : `, ${r.deleted} deleted`}.`,
        )
      : el("p", { class: "small muted freshness-reconcile" }, "No reconcile yet (RECONCILE_INTERVAL)."),
  );
  return nodes;
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function hours(ms: number): string {
  return ms % 3600000 === 0 ? `${ms / 3600000} h` : `${Math.round(ms / 60000)} min`;
}

function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Node[]): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

function label(attrs: Record<string, string | number>, text: string): SVGElement {
  const node = svg("text", { class: "label", ...attrs });
  node.textContent = text;
  return node;
}

/** The top of the y axis and its number of steps: whole, round steps, as little headroom as they allow. */
function axis(max: number): { top: number; steps: number } {
  let best = { top: 4, steps: 4 };
  if (max <= 4) return best;
  best = { top: Number.POSITIVE_INFINITY, steps: 4 };
  for (const steps of [3, 4, 5]) {
    const raw = max / steps;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step =
      [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw && Number.isInteger(s)) || 10 * power;
    if (step * steps < best.top) best = { top: step * steps, steps };
  }
  return best;
}

const CHART = { W: 720, H: 170, left: 34, right: 6, top: 8, bottom: 22 };

function renderChart({ range, bucketMs, buckets }: Chart): void {
  const { W, H, left, right, top } = CHART;
  const plotH = H - top - CHART.bottom;
  const totals = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  let max = 0;
  for (const b of buckets) {
    let sum = 0;
    for (const o of OUTCOMES) {
      sum += b[o];
      totals[o] += b[o];
    }
    max = Math.max(max, sum);
  }
  const { top: top_, steps } = axis(max);
  const unit = range === "hour" ? "minute" : "30 minutes";
  const total = OUTCOMES.reduce((s, o) => s + totals[o], 0);
  const summary = `Deliveries per ${unit} over the last ${range}: ${total} in all, ${OUTCOMES.map((o) => `${totals[o]} ${o}`).join(", ")}.`;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary });
  for (let i = 0; i <= steps; i++) {
    const value = (top_ / steps) * i;
    const y = top + plotH - (plotH * i) / steps;
    chart.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: y, y2: y }));
    chart.append(
      label(
        { x: left - 6, y: y + 3, "text-anchor": "end" },
        Number.isInteger(value) ? String(value) : value.toFixed(1),
      ),
    );
  }
  renderBars(chart, range, buckets, top_);
  $("chart").replaceChildren(chart);
  $("legend").replaceChildren(
    ...OUTCOMES.map((o) => el("span", { class: o }, `${o} ${totals[o]}`)),
    el("span", { class: "visually-hidden" }, `per ${unit}, bucket of ${bucketMs / 60000} min`),
  );
}

/** One stacked bar per bucket, with its tooltip, and a time label every few bars. */
function renderBars(chart: SVGElement, range: Chart["range"], buckets: Bucket[], axisTop: number): void {
  const { W, H, left, right, top } = CHART;
  const plotW = W - left - right;
  const plotH = H - top - CHART.bottom;
  const slot = plotW / Math.max(buckets.length, 1);
  const barW = Math.max(1, slot * 0.78);
  const labelEvery = range === "hour" ? 10 : 8;
  buckets.forEach((b, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    const group = svg("g", {});
    const title = svg("title", {});
    const at = new Date(b.at);
    title.textContent = `${at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}: ${
      OUTCOMES.filter((o) => b[o])
        .map((o) => `${b[o]} ${o}`)
        .join(", ") || "none"
    }`;
    group.append(title);
    for (const o of OUTCOMES) {
      if (!b[o]) continue;
      const h = (plotH * b[o]) / axisTop;
      y -= h;
      group.append(
        svg("rect", {
          class: o,
          x: x.toFixed(1),
          y: y.toFixed(1),
          width: barW.toFixed(1),
          height: Math.max(h, 1).toFixed(1),
          rx: Math.min(2, barW / 3).toFixed(1),
        }),
      );
    }
    // A transparent hit area so that the tooltip shows on empty buckets too.
    group.append(
      svg("rect", {
        x: (left + i * slot).toFixed(1),
        y: top,
        width: slot.toFixed(1),
        height: plotH,
        "fill-opacity": 0,
      }),
    );
    chart.append(group);
    if (i % labelEvery === 0) {
      chart.append(
        label(
          { x: (x + barW / 2).toFixed(1), y: H - 6, "text-anchor": "middle" },
          at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }),
        ),
      );
    }
  });
}

// ---------- lookup

$("lookup").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData($<HTMLFormElement>("lookup"));
  const out = $("lookup-result");
  const query = String(form.get("query")).trim();
  // An organization id looks up the organization; anything else, a user by Clerk id or email.
  const organization = query.startsWith("org_");
  out.replaceChildren(el("p", { class: "muted" }, "Looking up…"));
  try {
    const found = await api<Lookup>(`/console/api/${organization ? "organizations" : "users"}/lookup`, {
      json: { environment: form.get("environment"), query },
    });
    const rows = (organization ? found.organizations : found.users) ?? [];
    if (rows.length === 0) {
      const what = organization ? "organization with that Clerk id" : "user with that Clerk id or email";
      out.replaceChildren(
        el(
          "p",
          {},
          found.tombstone
            ? `Deleted in Clerk on ${new Date(found.tombstone.deletedAt).toLocaleString()}: only its tombstone remains (no personal data).`
            : `No ${what} in ${form.get("environment")}.`,
        ),
      );
      return;
    }
    out.replaceChildren(
      ...rows.map((row) => {
        const id = String(organization ? row.clerk_org_id : row.clerk_user_id);
        return renderRow(organization ? "Organization" : "User", id, row, found.billing[id]);
      }),
    );
  } catch (error) {
    if (error instanceof Unauthorized) return showSignIn(error.message);
    out.replaceChildren(el("p", { class: "error", role: "alert" }, messageOf(error)));
  }
});

/** A stored row: every column, its raw_payload folded, and the payer's plan in force and subscription items. */
function renderRow(
  kind: string,
  id: string,
  row: Record<string, unknown>,
  billing: PayerBilling | undefined,
): HTMLElement {
  const { raw_payload: raw, ...columns } = row;
  return el(
    "article",
    { class: "user", "aria-label": `${kind} ${id}` },
    el(
      "dl",
      {},
      ...Object.entries(columns).flatMap(([name, value]) => [
        el("dt", {}, name),
        el("dd", {}, value === null ? el("span", { class: "muted" }, "null") : String(value)),
      ]),
    ),
    el("details", {}, el("summary", {}, "raw_payload"), el("pre", {}, JSON.stringify(raw, null, 2))),
    billing ? renderBilling(billing) : null,
  );
}

function renderBilling({ plan, items }: PayerBilling): HTMLElement {
  const until = plan?.period_end ? ` until ${new Date(String(plan.period_end)).toLocaleString()}` : "";
  return el(
    "section",
    { class: "billing" },
    el("h3", {}, "Billing"),
    el(
      "p",
      { class: "plan" },
      plan
        ? `Plan in force: ${plan.plan_slug ?? plan.plan_id} (${plan.status}${plan.is_default ? ", default" : ""})${until}.`
        : "No plan in force (no Billing event stored for it, or none active).",
    ),
    items.length === 0
      ? null
      : el(
          "div",
          { class: "scroll" },
          el(
            "table",
            { class: "grid compact" },
            el(
              "thead",
              {},
              el("tr", {}, ...["Item", "Plan", "Status", "Period start", "Period end"].map(header)),
            ),
            el(
              "tbody",
              {},
              ...items.map((i) =>
                el(
                  "tr",
                  {},
                  mono(i.clerk_item_id as string),
                  el("td", {}, String(i.plan_slug ?? i.plan_id ?? "—")),
                  el("td", {}, String(i.status ?? "—")),
                  el("td", {}, time(i.period_start as string | null, { date: true })),
                  el("td", {}, time(i.period_end as string | null, { date: true })),
                ),
              ),
            ),
          ),
        ),
  );
}

function header(text: string): HTMLElement {
  return el("th", { scope: "col" }, text);
}

// ---------- the loop

async function refresh(): Promise<void> {
  await Promise.all([refreshDeliveries(), refreshRefusals()]);
}

function every(ms: number, fn: () => Promise<void>): void {
  let running = false;
  const tick = async () => {
    if (running || state.paused || document.visibilityState === "hidden") return;
    running = true;
    try {
      await fn();
      $("live-text").textContent = "Live";
    } catch (error) {
      if (error instanceof Unauthorized) return showSignIn(error.message);
      $("live-text").textContent = "Reconnecting…";
    } finally {
      running = false;
    }
  };
  state.timers.push(setInterval(tick, ms));
}

function stop(): void {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
}

async function start(): Promise<void> {
  // All at once: the rows need not wait for the setup's round trip.
  const data = Promise.all([refresh(), refreshSummary()]);
  data.catch(() => {});
  try {
    const setup = await api<Setup>("/console/api/setup");
    renderSetup(setup);
    renderTypeOptions();
    $("loading").hidden = true;
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("live").hidden = false;
    $("pause").hidden = false;
    await data;
    $<HTMLDetailsElement>("start").open = state.latest.length === 0 || setup.access.mode === "local";
    stop();
    every(POLL_MS, refresh);
    every(SUMMARY_MS, refreshSummary);
  } catch (error) {
    if (error instanceof Unauthorized) return showSignIn();
    $("loading").textContent = `The console could not load: ${messageOf(error)}`;
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !state.paused && !$("app").hidden) void refresh();
});

void start();
