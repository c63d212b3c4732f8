import type { FastifyPluginAsync } from "fastify";
import { fastifyReply, methodNotAllowed } from "../response.js";
import type { ClerkUserSync } from "../sync.js";
import { WEBHOOK_PATH } from "../sync.js";

/** Options of {@link clerkUserSyncFastify}. */
export interface ClerkUserSyncFastifyOptions {
  sync: ClerkUserSync;
  /** Where to mount the webhook route (`/api/user/webhook/clerk`). */
  path?: string;
}

/**
 * A Fastify plugin mounting the webhook route. It is deliberately encapsulated (not wrapped in fastify-plugin):
 * inside it every content-type parser is replaced by one that keeps the raw bytes, so signatures verify whatever
 * parsers the rest of your app registers, and nothing outside it changes.
 *
 * @example
 * ```ts
 * import { clerkUserSyncFastify } from "clerk-user-sync/fastify";
 * await app.register(clerkUserSyncFastify, { sync });
 * ```
 */
export const clerkUserSyncFastify: FastifyPluginAsync<ClerkUserSyncFastifyOptions> = async (app, options) => {
  const { sync, path = WEBHOOK_PATH } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: sync.bodyLimit }, (_request, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error, request, reply) => {
    // The connection is gone, or already answered and closing (the service refused the request's bytes, a body
    // too slow, say, and logged that): no one to answer, nothing more to log or count.
    const socket = request.raw.socket as { destroyed?: boolean; writableEnded?: boolean } | undefined;
    if (socket?.destroyed === true || socket?.writableEnded === true) {
      reply.hijack();
      return;
    }
    const response = sync.refuse(error);
    return fastifyReply(reply, response);
  });
  app.post(path, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : EMPTY;
    const response = await sync.handle({ body, headers: request.headers });
    return fastifyReply(reply, response);
  });
  app.route({
    method: ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
    url: path,
    handler: async (_request, reply) => {
      return fastifyReply(reply, methodNotAllowed());
    },
  });
};

const EMPTY = Buffer.alloc(0);
