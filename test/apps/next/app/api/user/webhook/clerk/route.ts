import { clerkUserSyncRoute } from "clerk-user-sync/next";
export const runtime = "nodejs";
export const { POST, GET, PUT, PATCH, DELETE } = clerkUserSyncRoute();
