import { spawn } from "node:child_process";
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
 * Runs `clerk-user-sync …` from the sources in a child process, as an operator would, with only the given
 * configuration (the rest of this process's environment, less anything the CLI reads).
 */
export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CONFIG.test(name)));
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
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
