#!/usr/bin/env node
import { parseArgs } from "node:util";
import { CommandFailedError, exitCode, SyncError } from "../errors.js";
import { describe } from "../log.js";
import { duration } from "../service/config.js";
import { pruneDeliveries } from "../store/deliveries.js";
import { backfillCommand } from "./backfill.js";
import { type Command, type Env, UsageError, withDatabase } from "./command.js";
import { CREATE_EMBEDDED, createEmbeddedDatabase, serve } from "./serve.js";
import { status } from "./status.js";
import { trigger } from "./trigger.js";

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: "run the webhook receiver (what `npm start` runs)",
    usage: "serve",
    async run(args, env) {
      if (args[0] === CREATE_EMBEDDED) {
        await createEmbeddedDatabase(env);
        return 0;
      }
      await serve(env);
      return undefined; // keeps running until a signal
    },
  },
  migrate: {
    summary: "apply pending database migrations, then exit",
    usage: "migrate",
    async run(_args, env) {
      await withDatabase(env, "migrate", async () => console.log("migrations applied"));
      return 0;
    },
  },
  prune: {
    summary: "delete delivery-log rows older than a duration (tombstones stay)",
    usage: "prune --older-than 30d",
    async run(args, env) {
      const { values } = parseArgs({ args, options: { "older-than": { type: "string", default: "30d" } } });
      const ms = duration(values["older-than"]);
      if (ms === undefined)
        throw new UsageError(`--older-than ${values["older-than"]}: expected a duration like 30d`);
      const removed = await withDatabase(env, "prune", (db) =>
        pruneDeliveries(db, new Date(Date.now() - ms)),
      );
      console.log(`removed ${removed} delivery-log row(s) older than ${values["older-than"]}`);
      return 0;
    },
  },
  backfill: backfillCommand,
  trigger,
  status,
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: clerk-user-sync <command> [options]\n\ncommands:\n${rows.join("\n")}\n`;
}

async function main(argv: string[], env: Env): Promise<number | undefined> {
  const [name, ...args] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(help());
    return name ? 0 : exitCode("invalid_arguments");
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${help()}`);
    return exitCode("invalid_arguments");
  }
  try {
    return await command.run(args, env);
  } catch (error) {
    const failure = asFailure(error);
    const usage = failure instanceof UsageError ? `\nusage: clerk-user-sync ${command.usage}` : "";
    process.stderr.write(`clerk-user-sync ${name}: ${failure.message}${usage}\n`);
    return exitCode(failure.code);
  }
}

/** Any error as a failure of the catalogue, whose code gives the exit code. */
function asFailure(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    return new UsageError((error as Error).message);
  }
  return new CommandFailedError(printable(error), { cause: error });
}

/** An error's message, unless it may quote stored data (see `describe`): then its class and SQLSTATE only. */
function printable(error: unknown): string {
  const { name, code, message } = describe(error);
  return typeof message === "string" ? message : `${String(name)} (SQLSTATE ${String(code)})`;
}

const code = await main(process.argv.slice(2), process.env);
if (code !== undefined) process.exit(code);
