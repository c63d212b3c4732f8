// A Hono app on @hono/node-server mounting clerk-user-sync from its packed tarball.
import { serve } from "@hono/node-server";
import { createClerkUserSync } from "clerk-user-sync";
import { toWebHandler } from "clerk-user-sync/web";
import { Hono } from "hono";

const sync = await createClerkUserSync({
  database: process.env.DATABASE_URL,
  secrets: {
    development: process.env.DEV_CLERK_WEBHOOK_SECRET,
    production: process.env.PROD_CLERK_WEBHOOK_SECRET,
  },
});
const webhook = toWebHandler(sync);
const app = new Hono();
app.post("/api/user/webhook/clerk", (c) => webhook(c.req.raw));
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
  console.log(JSON.stringify({ port: info.port })),
);
