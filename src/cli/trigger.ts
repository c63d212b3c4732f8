import { parseArgs } from "node:util";
import { ConfigError, exitCode } from "../errors.js";
import { networkReason } from "../network.js";
import { portOf, WEBHOOK_SECRET_VARIABLES, webhookSecrets } from "../service/config.js";
import { withLocalSecret } from "../service/local-secret.js";
import { WEBHOOK_PATH } from "../sync.js";
import { ENVIRONMENTS, type Environment, secretProblems, splitSecrets } from "../verify.js";
import type { Command, Env } from "./command.js";
import { UsageError } from "./command.js";
import { isExampleType, signedExample, EXAMPLE_TYPES as TYPES } from "./example-delivery.js";

const HELP = `usage: clerk-user-sync trigger <type> --env development|production [--url URL] [--user-id ID] [--org-id ID]

Sends Clerk's published example event of <type> (${TYPES.join(", ")})
to a running receiver, signed like Svix signs it with the configured secret of that instance
(DEV_/PROD_CLERK_WEBHOOK_SECRET; with no secret and no DATABASE_URL, the local secret \`npm start\` generated
under DATA_DIR), and prints the answer.

Each run is a new event: a fresh svix-id and envelope timestamp, and for every created and updated event
data.updated_at = now, so that repeating a trigger applies again instead of coming back "stale".
Each example names its own user, organization and membership; --user-id ID acts on another user (a user event's
data.id, a membership's data.public_user_data.user_id), --org-id ID on another organization (an organization
event's data.id, a membership's data.organization.id). A Billing example (subscription.*, subscriptionItem.*,
paymentAttempt.*) is paid for by --org-id ID if given, else by --user-id ID (data.payer), and then names that
payer's own subscription, item and payer ids (csub_ID, csub_item_ID, cpayer_ID). Whatever is deleted stays
deleted (its tombstone turns later events for it, and for memberships of a deleted user or organization, into
"stale"): pick new ids to start over.

options:
  --env       development or production: which instance's secret signs the event
  --url       where to send it (default http://localhost:$PORT/api/user/webhook/clerk, PORT defaulting to 3000)
  --user-id   the Clerk user id to aim user, membership and Billing events at (default: the example's)
  --org-id    the Clerk organization id to aim organization, membership and Billing events at (default: the example's)

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
  summary:
    "send Clerk's example user, organization, membership or Billing event, signed, to a running receiver",
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
    const url = values.url ?? `http://localhost:${portOf(env)}${WEBHOOK_PATH}`;
    if (!URL.canParse(url)) throw new UsageError(`--url ${url} is not a URL`);

    const secret = signingSecret(environment, env);
    const {
      body,
      headers,
      svixId,
      userId: id,
    } = signedExample(type, { secret, userId, orgId, now: new Date() });
    const target = shown(url);
    process.stdout.write(`${type} for ${id} (${environment}, ${svixId}) → ${target}\n`);

    let response: Response;
    try {
      response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      process.stderr.write(
        `clerk-user-sync trigger: cannot reach ${target} (${networkReason(error)}); is the receiver running ` +
          "(`npm start`)? --url points elsewhere\n",
      );
      return exitCode("command_failed");
    }
    process.stdout.write(`${response.status} ${await response.text()}\n`);
    return response.ok ? 0 : exitCode("command_failed");
  },
};

/**
 * The first configured secret of an environment: the one `serve` would verify with. For a development event on a
 * zero-configuration machine, that is the local secret `serve` generated (or will generate) under DATA_DIR.
 */
function signingSecret(environment: Environment, env: Env): string {
  const name = WEBHOOK_SECRET_VARIABLES[environment];
  const resolved = environment === "development" ? withLocalSecret(env).env : env;
  const [secret] = splitSecrets(webhookSecrets(resolved)[environment]);
  if (!secret) {
    throw new ConfigError([
      `${name} is not set: trigger signs ${environment} events with the secret the receiver verifies them with`,
    ]);
  }
  const problems = secretProblems({ [environment]: secret }, WEBHOOK_SECRET_VARIABLES);
  if (problems.length > 0) throw new ConfigError(problems);
  return secret;
}

/** The URL without credentials, for printing. */
function shown(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
}
