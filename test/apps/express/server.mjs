// An Express app mounting clerk-user-sync from its packed tarball.

import { createClerkUserSync } from "clerk-user-sync";
import { clerkUserSyncExpress } from "clerk-user-sync/express";
import express from "express";

const sync = await createClerkUserSync({
  database: process.env.DATABASE_URL,
  secrets: {
    development: process.env.DEV_CLERK_WEBHOOK_SECRET,
    production: process.env.PROD_CLERK_WEBHOOK_SECRET,
  },
});
const app = express();
app.use(clerkUserSyncExpress(sync)); // before any body parser
app.use(express.json());
const server = app.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
