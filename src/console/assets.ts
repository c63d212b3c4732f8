import { PAGE } from "./page.js";
import { SCRIPT } from "./script.generated.js";
import { STYLE } from "./style.js";

/** The console's static files, held as strings: nothing is read from disk at run time, `dist/` needs no copying. */
export const ASSETS = [
  { path: "/", type: "text/html; charset=utf-8", body: PAGE },
  { path: "/console/app.js", type: "text/javascript; charset=utf-8", body: SCRIPT },
  { path: "/console/app.css", type: "text/css; charset=utf-8", body: STYLE },
  {
    path: "/console/icon.svg",
    type: "image/svg+xml",
    body:
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#4f46e5"/>' +
      '<path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>',
  },
] as const;
