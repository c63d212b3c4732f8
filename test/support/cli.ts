import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What the CLI reads from the environment: never inherited from the developer's shell. */
export const CONFIG =
  /^(DEV_|PROD_)?CLERK_|^(DATABASE_URL|DATA_DIR|PORT|HOST|LOG_LEVEL|LOG_FORMAT|CONSOLE_TOKEN|METRICS_TOKEN|SHUTDOWN_TIMEOUT|PRUNE_.*)$/;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `clerk-user-sync …` in a child process, as an operator would, with only the given configuration (the rest of
 * this process's environment, less anything the CLI reads). It runs the build ({@link BIN}, as the published bin
 * does), which the suite's global setup builds again when a source is newer: compiling the sources in every child
 * instead (tsx) costs about a second of CPU a command.
 */
export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CONFIG.test(name)));
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The built CLI, relative to {@link ROOT}: what child processes run (`node dist/cli/main.js serve`). */
export const BIN = "dist/cli/main.js";

/** Builds `dist/` (`npm run build`) unless it is newer than every source: once a run, from the global setup. */
export function ensureBuilt(): void {
  const bin = join(ROOT, BIN);
  const src = join(ROOT, "src");
  const newest = Math.max(
    ...readdirSync(src, { recursive: true, encoding: "utf8" }).map((f) => statSync(join(src, f)).mtimeMs),
  );
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    execFileSync(
      process.execPath,
      [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: ROOT,
      },
    );
  }
}
