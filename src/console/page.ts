/** The console page: markup only. Its script and styles are separate files, as the Content-Security-Policy wants. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>clerk-user-sync console</title>
<link rel="icon" href="/console/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<a class="skip" href="#deliveries-title">Skip to the deliveries</a>
<header class="top">
  <div class="brand">
    <svg class="logo" viewBox="0 0 16 16" aria-hidden="true"><rect width="16" height="16" rx="3"></rect><path d="M4 8.5l2.5 2.5L12 5.5"></path></svg>
    <h1>clerk-user-sync <span class="muted">console</span></h1>
  </div>
  <p id="access" class="access"></p>
  <div class="actions">
    <span id="live" class="live" hidden><span class="dot" aria-hidden="true"></span><span id="live-text">Live</span></span>
    <button id="pause" type="button" aria-pressed="false" hidden>Pause</button>
    <button id="sign-out" type="button" hidden>Sign out</button>
  </div>
</header>
<main id="main">
  <p id="loading" class="muted">Loading…</p>
  <section id="sign-in" class="panel narrow" aria-labelledby="sign-in-title" hidden>
    <h2 id="sign-in-title">Sign in</h2>
    <p class="muted">The console shows users' personal data: it needs the token the service was started with (<code>CONSOLE_TOKEN</code>).</p>
    <form id="sign-in-form" method="post" action="/console/api/session">
      <label for="token">Console token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="sign-in-error">
      <button type="submit" class="primary">Sign in</button>
      <p id="sign-in-error" class="error" role="alert"></p>
    </form>
  </section>

  <div id="app" hidden>
    <details id="start" class="panel">
      <summary><h2 id="start-title">Getting started</h2></summary>
      <div class="start-grid">
        <div>
          <p><label for="webhook-url">Endpoint URL to add in Clerk (Dashboard → Configure → Webhooks → Add endpoint)</label></p>
          <div class="copy"><input id="webhook-url" readonly><button id="copy-url" type="button">Copy</button></div>
          <p id="copy-status" class="muted small" role="status"></p>
          <p id="url-note" class="warn small" hidden></p>
          <h3>Instances</h3>
          <ul id="instances" class="instances"></ul>
        </div>
        <div id="examples" hidden>
          <h3>Send an example event</h3>
          <p class="muted small">Clerk's published example, signed with this run's local Development secret and delivered through the webhook route, as <code>clerk-user-sync trigger</code> does.</p>
          <label for="example-user">User id <span class="muted">(optional: the example's own otherwise)</span></label>
          <input id="example-user" autocomplete="off" spellcheck="false" placeholder="user_…">
          <div id="example-buttons" class="buttons"></div>
          <p id="example-result" class="small" role="status"></p>
        </div>
      </div>
    </details>

    <section class="panel" aria-labelledby="glance-title">
      <div class="panel-head">
        <h2 id="glance-title">At a glance</h2>
        <label class="inline">Chart range
          <select id="range"><option value="hour">Last hour, per minute</option><option value="day">Last day, per 30 minutes</option></select>
        </label>
      </div>
      <div class="glance">
        <div id="counts" class="cards"></div>
        <figure class="chart">
          <div id="chart"></div>
          <figcaption id="legend" class="legend"></figcaption>
        </figure>
      </div>
      <h3>Last error of each code</h3>
      <div class="scroll"><table class="grid" id="last-errors-table">
        <thead><tr><th scope="col">Code</th><th scope="col">Status</th><th scope="col">When</th><th scope="col">Environment</th><th scope="col">Svix id</th></tr></thead>
        <tbody id="last-errors"></tbody>
      </table></div>
    </section>

    <div class="columns">
      <section class="panel wide" aria-labelledby="deliveries-title">
        <div class="panel-head">
          <h2 id="deliveries-title" tabindex="-1">Deliveries</h2>
          <form id="filters" class="filters">
            <label>Environment <select name="environment"><option value="">All</option><option value="development">Development</option><option value="production">Production</option></select></label>
            <label>Type <select name="type"><option value="">All</option></select></label>
            <label>Outcome <select name="outcome"><option value="">All</option><option>applied</option><option>duplicate</option><option>stale</option><option>ignored</option></select></label>
          </form>
        </div>
        <p id="live-status" class="visually-hidden" aria-live="polite"></p>
        <div class="scroll tall" tabindex="0" role="region" aria-label="Deliveries, scrollable"><table class="grid" aria-describedby="deliveries-note">
          <thead><tr><th scope="col">Received</th><th scope="col">Environment</th><th scope="col">Type</th><th scope="col">Outcome</th><th scope="col">User / org</th><th scope="col">Svix id</th></tr></thead>
          <tbody id="delivery-rows"></tbody>
        </table></div>
        <p id="deliveries-note" class="muted small">Newest first, from the delivery log (what was stored). Refused deliveries are listed apart.</p>
        <button id="more" type="button" hidden>Load older</button>
      </section>

      <section class="panel" aria-labelledby="refusals-title">
        <h2 id="refusals-title">Refusals</h2>
        <p class="muted small">The last 500 answers of 4xx or 5xx, kept in memory since the service started.</p>
        <div class="scroll tall" tabindex="0" role="region" aria-label="Refusals, scrollable"><table class="grid compact">
          <thead><tr><th scope="col">When</th><th scope="col">Status</th><th scope="col">Code</th><th scope="col">Svix id</th></tr></thead>
          <tbody id="refusal-rows"></tbody>
        </table></div>
      </section>
    </div>

    <section class="panel" aria-labelledby="lookup-title">
      <h2 id="lookup-title">Look up a user or organization</h2>
      <form id="lookup" class="lookup">
        <label>Environment <select name="environment"><option value="development">Development</option><option value="production">Production</option></select></label>
        <label class="grow">Clerk user id, email or organization id <input name="query" required autocomplete="off" spellcheck="false" placeholder="user_…, someone@example.org or org_…"></label>
        <button type="submit" class="primary">Look up</button>
      </form>
      <div id="lookup-result" aria-live="polite"></div>
    </section>
  </div>
</main>
</body>
</html>
`;
