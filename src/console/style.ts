/** The console's styles: light and dark (prefers-color-scheme), contrast of at least 4.5:1 for text. */
export const STYLE = `:root {
  color-scheme: light dark;
  --bg: #f6f8fa; --panel: #ffffff; --text: #1f2328; --muted: #57606a; --border: #d0d7de; --accent: #4f46e5;
  --accent-text: #ffffff; --focus: #0969da; --row-new: #fff8c5; --error: #cf222e; --code-bg: #eff1f3;
  --applied: #1a7f37; --applied-bg: #dafbe1; --duplicate: #0550ae; --duplicate-bg: #ddf4ff;
  --stale: #9a6700; --stale-bg: #fff8c5; --ignored: #57606a; --ignored-bg: #eaeef2;
  --refused: #cf222e; --refused-bg: #ffebe9;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --panel: #161b22; --text: #e6edf3; --muted: #9198a1; --border: #30363d; --accent: #818cf8;
    --accent-text: #0d1117; --focus: #4493f8; --row-new: #3b2e05; --error: #ff7b72; --code-bg: #1f242c;
    --applied: #3fb950; --applied-bg: #12261e; --duplicate: #58a6ff; --duplicate-bg: #0c2d4b;
    --stale: #d29922; --stale-bg: #2e2406; --ignored: #9198a1; --ignored-bg: #21262d;
    --refused: #ff7b72; --refused-bg: #3c1618;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--text); }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1, h2, h3 { line-height: 1.25; margin: 0; }
h1 { font-size: 18px; font-weight: 650; }
h2 { font-size: 16px; font-weight: 650; }
h3 { font-size: 13px; font-weight: 650; margin: 16px 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
p { margin: 8px 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
code { background: var(--code-bg); padding: 1px 4px; border-radius: 4px; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.error { color: var(--error); min-height: 1.5em; }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 12px; top: 12px; z-index: 10; background: var(--panel); padding: 8px 12px; border-radius: 6px; }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }

.top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 12px 24px; background: var(--panel); border-bottom: 1px solid var(--border); }
.brand { display: flex; align-items: center; gap: 10px; }
.logo { width: 22px; height: 22px; }
.logo rect { fill: var(--accent); }
.logo path { stroke: var(--accent-text); stroke-width: 2; fill: none; }
.access { flex: 1; margin: 0; color: var(--muted); font-size: 13px; }
.access.warn, #url-note { color: var(--stale); }
.actions { display: flex; align-items: center; gap: 10px; }
.live { display: inline-flex; align-items: center; gap: 6px; font-size: 12.5px; color: var(--muted); }
.live .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--applied); }
.live.paused .dot { background: var(--ignored); }

main { max-width: 1320px; margin: 0 auto; padding: 20px 24px 48px; display: grid; gap: 16px; }
#app { display: grid; gap: 16px; }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 16px 18px; min-width: 0; }
.narrow { max-width: 440px; margin: 40px auto; width: 100%; }
.panel-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px 16px; margin-bottom: 10px; }
details > summary { cursor: pointer; list-style: none; display: flex; align-items: center; gap: 8px; }
details > summary::before { content: "▸"; color: var(--muted); }
details[open] > summary::before { content: "▾"; }
details > summary::-webkit-details-marker { display: none; }
.start-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px 32px; margin-top: 8px; }
.columns { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 16px; align-items: start; }
@media (max-width: 980px) { .columns { grid-template-columns: minmax(0, 1fr); } }

button, input, select { font: inherit; color: inherit; }
button { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; padding: 5px 12px; cursor: pointer; }
button:hover { border-color: var(--muted); }
button.primary { background: var(--accent); color: var(--accent-text); border-color: var(--accent); font-weight: 600; }
button:disabled { opacity: .6; cursor: progress; }
input, select { background: var(--bg); border: 1px solid var(--border); border-radius: 6px; padding: 5px 8px; }
label { display: block; font-weight: 550; }
label.inline, .filters label, .lookup label { display: inline-flex; flex-direction: column; gap: 2px; font-size: 12.5px; color: var(--muted); }
.filters { display: flex; flex-wrap: wrap; gap: 10px; }
#sign-in-form input { width: 100%; margin: 4px 0 12px; }
.copy { display: flex; gap: 6px; }
.copy input { flex: 1; min-width: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.instances { list-style: none; padding: 0; margin: 0; display: flex; gap: 8px; flex-wrap: wrap; }
.instances li { border: 1px solid var(--border); border-radius: 999px; padding: 2px 10px; font-size: 12.5px; }
.instances .on { color: var(--applied); border-color: var(--applied); }
.buttons { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 10px; }
#example-user { width: 100%; margin-top: 4px; }
.lookup { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; }
.lookup .grow { flex: 1; min-width: 240px; }
.lookup .grow input { width: 100%; }

.glance { display: grid; grid-template-columns: minmax(240px, 1fr) minmax(0, 2.4fr); gap: 16px; align-items: start; }
@media (max-width: 860px) { .glance { grid-template-columns: minmax(0, 1fr); } }
.cards { display: grid; gap: 10px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 10px 12px; }
.card h3 { margin: 0 0 6px; }
.card dl { display: grid; grid-template-columns: 1fr auto; gap: 2px 12px; margin: 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.chart { margin: 0; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--border); }
.chart .label { fill: var(--muted); font-size: 10px; }
.chart .applied { fill: var(--applied); } .chart .duplicate { fill: var(--duplicate); } .chart .stale { fill: var(--stale); }
.chart .ignored { fill: var(--ignored); } .chart .refused { fill: var(--refused); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12.5px; color: var(--muted); margin-top: 6px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; background: currentColor; }
.legend .applied::before { background: var(--applied); } .legend .duplicate::before { background: var(--duplicate); }
.legend .stale::before { background: var(--stale); } .legend .ignored::before { background: var(--ignored); }
.legend .refused::before { background: var(--refused); }

.scroll { overflow-x: auto; }
.scroll.tall { max-height: 560px; overflow: auto; border-radius: 4px; }
.scroll.tall thead th { position: sticky; top: 0; background: var(--panel); z-index: 1; }
.compact td.mono:last-child { max-width: 14ch; overflow: hidden; text-overflow: ellipsis; }
table.grid { width: 100%; border-collapse: collapse; font-size: 13px; }
.grid th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 6px 8px; border-bottom: 1px solid var(--border); white-space: nowrap; }
.grid td { padding: 5px 8px; border-bottom: 1px solid var(--border); white-space: nowrap; vertical-align: top; }
.grid tbody tr:last-child td { border-bottom: 0; }
.grid td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.grid .empty td { color: var(--muted); text-align: center; padding: 16px; white-space: normal; }
tr.new td { background: var(--row-new); transition: background 1.5s ease-out; }
tr.seen td { transition: background 1.5s ease-out; }
@media (prefers-reduced-motion: reduce) { tr.new td, tr.seen td { transition: none; } }
.badge { display: inline-block; border-radius: 999px; padding: 0 8px; font-size: 12px; font-weight: 600; line-height: 20px; }
.badge.applied { color: var(--applied); background: var(--applied-bg); }
.badge.duplicate { color: var(--duplicate); background: var(--duplicate-bg); }
.badge.stale { color: var(--stale); background: var(--stale-bg); }
.badge.ignored { color: var(--ignored); background: var(--ignored-bg); }
.badge.refused { color: var(--refused); background: var(--refused-bg); }
.env { font-size: 12px; }
.env.production { font-weight: 650; }
#more { margin-top: 8px; }

.user { margin-top: 12px; border: 1px solid var(--border); border-radius: 8px; padding: 12px; }
.user dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 16px; margin: 0 0 10px; }
.user dt { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.user dd { margin: 0; overflow-wrap: anywhere; }
.user pre { background: var(--code-bg); border-radius: 6px; padding: 10px; max-height: 360px; overflow: auto; font-size: 12px; margin: 4px 0 0; }
.user .billing { margin-top: 10px; }
.user .billing h3 { font-size: 14px; margin: 0 0 4px; }
`;
