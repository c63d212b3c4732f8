import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Webhook } from "svix";
import { ConfigError } from "../errors.js";
import { withLocalSecret } from "../service/local-secret.js";
import { WEBHOOK_PATH } from "../sync.js";
import { ENVIRONMENTS, type Environment, secretProblems, splitSecrets } from "../verify.js";
import type { Command, Env } from "./command.js";
import { UsageError } from "./command.js";
import { type ClerkExampleEvent, EXAMPLES, type ExampleType } from "./examples.js";

const TYPES = Object.keys(EXAMPLES) as ExampleType[];

const SECRET_VARIABLES: Record<Environment, string> = {
  development: "DEV_CLERK_WEBHOOK_SECRET",
  production: "PROD_CLERK_WEBHOOK_SECRET",
};

const HELP = `usage: clerk-user-sync trigger <type> --env development|production [--url URL] [--user-id ID] [--org-id ID]

Sends Clerk's published example event of <type> (${TYPES.join(", ")})
to a running receiver, signed like Svix signs it with the configured secret of that instance
(DEV_/PROD_CLERK_WEBHOOK_SECRET; with no secret and no DATABASE_URL, the local secret \`npm start\` generated
under DATA_DIR), and prints the answer.

Each run is a new event: a fresh svix-id and envelope timestamp, and for every created and updated event
data.updated_at = now, so that repeating a trigger applies again instead of coming back "stale".
Each example names its own user, organization and membership; --user-id ID acts on another user (a user event's
data.id, a membership's data.public_user_data.user_id), --org-id ID on another organization (an organization
event's data.id, a membership's data.organization.id). Whatever is deleted stays deleted (its tombstone turns later
events for it, and for memberships of a deleted user or organization, into "stale"): pick new ids to start over.

options:
  --env       development or production: which instance's secret signs the event
  --url       where to send it (default http://localhost:$PORT/api/user/webhook/clerk, PORT defaulting to 3000)
  --user-id   the Clerk user id to aim user and membership events at (default: the example's)
  --org-id    the Clerk organization id to aim organization and membership events at (default: the example's)

exit code: 0 when the receiver answers 2xx, 1 otherwise (or when it cannot be reached)
`;

/**
 * `clerk-user-sync trigger`: a signed example delivery, to see the receiver work without a Clerk account.
 *
 * @example
 * ```sh
 * clerk-user-sync trigger user.created --env development --user-id user_test_1
 * ```
 */
export const trigger: Command = {
  summary: "send Clerk's example user, organization or membership event, signed, to a running receiver",
  usage: "trigger <type> --env development|production [--url URL] [--user-id ID] [--org-id ID]",
  async run(args, env) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        env: { type: "string" },
        url: { type: "string" },
        "user-id": { type: "string" },
        "org-id": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [type, ...extra] = positionals;
    if (!isExampleType(type) || extra.length > 0)
      throw new UsageError(`expected one event type: ${TYPES.join(", ")}`);
    const environment = ENVIRONMENTS.find((e) => e === values.env);
    if (!environment) throw new UsageError("--env must be development or production");
    const userId = values["user-id"]?.trim();
    if (userId === "") throw new UsageError("--user-id must not be empty");
    const orgId = values["org-id"]?.trim();
    if (orgId === "") throw new UsageError("--org-id must not be empty");
    const url = values.url ?? `http://localhost:${env.PORT?.trim() || 3000}${WEBHOOK_PATH}`;
    if (!URL.canParse(url)) throw new UsageError(`--url ${url} is not a URL`);

    const secret = signingSecret(environment, env);
    const now = new Date();
    const event = exampleEvent(type, { userId, orgId, now });
    const body = JSON.stringify(event);
    const svixId = `msg_${randomUUID().replaceAll("-", "")}`;
    const headers = {
      "content-type": "application/json",
      "svix-id": svixId,
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": new Webhook(secret).sign(svixId, now, body),
    };
    const target = shown(url);
    process.stdout.write(`${type} for ${String(event.data.id)} (${environment}, ${svixId}) → ${target}\n`);

    let response: Response;
    try {
      response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      process.stderr.write(
        `clerk-user-sync trigger: cannot reach ${target} (${networkReason(error)}); is the receiver running ` +
          "(`npm start`)? --url points elsewhere\n",
      );
      return 1;
    }
    process.stdout.write(`${response.status} ${await response.text()}\n`);
    return response.ok ? 0 : 1;
  },
};

/**
 * The example event of `type`, made new: aimed at the given user and organization (see the help text), a fresh
 * envelope timestamp (in the example's own unit: the OpenAPI examples use seconds, the docs milliseconds) and, for
 * creates and updates, `data.updated_at` = now so that the receiver sees a newer version of the object.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(exampleEvent("user.updated", { userId: "user_123", now: new Date() }));
 * ```
 */
export function exampleEvent(
  type: ExampleType,
  { userId, orgId, now }: { userId?: string | undefined; orgId?: string | undefined; now: Date },
): ClerkExampleEvent {
  const event = structuredClone(EXAMPLES[type]) as ClerkExampleEvent;
  event.timestamp = event.timestamp < 1e11 ? Math.floor(now.getTime() / 1000) : now.getTime();
  const data = event.data;
  if (type.startsWith("user.") && userId) data.id = userId;
  if (type.startsWith("organization.") && orgId) data.id = orgId;
  if (type.startsWith("organizationMembership.")) {
    const { public_user_data: member, organization } = data as Record<string, Record<string, unknown>>;
    if (userId && member) member.user_id = userId;
    if (orgId && organization) organization.id = orgId;
  }
  if (!type.endsWith(".deleted")) data.updated_at = now.getTime();
  return event;
}

/**
 * The first configured secret of an environment: the one `serve` would verify with. For a development event on a
 * zero-configuration machine, that is the local secret `serve` generated (or will generate) under DATA_DIR.
 */
function signingSecret(environment: Environment, env: Env): string {
  const name = SECRET_VARIABLES[environment];
  const resolved = environment === "development" ? withLocalSecret(env).env : env;
  const [secret] = splitSecrets(resolved[name]);
  if (!secret) {
    throw new ConfigError([
      `${name} is not set: trigger signs ${environment} events with the secret the receiver verifies them with`,
    ]);
  }
  const problems = secretProblems({ [environment]: secret }, SECRET_VARIABLES);
  if (problems.length > 0) throw new ConfigError(problems);
  return secret;
}

function isExampleType(value: string | undefined): value is ExampleType {
  return (TYPES as (string | undefined)[]).includes(value);
}

/** The URL without credentials, for printing. */
function shown(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
}

/** fetch hides the network error in `cause`: ECONNREFUSED, ENOTFOUND, a timeout… */
function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer within 15 s";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string")
    return cause.code === "ECONNREFUSED" ? "connection refused" : cause.code;
  return error instanceof Error ? error.message : String(error);
}
