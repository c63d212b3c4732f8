import { type ChildProcess, spawn } from "node:child_process";
import { CONFIG, ROOT } from "./cli.js";

/** Fastify's line once the service listens; its port is the first group. */
export const LISTENING = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/;

/** A program started as a user would, with only the given configuration. */
export interface Program {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match in its output; rejects if it exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Program[] = [];

/**
 * Starts `command` in the project's root, in its own process group so that {@link killStarted} can stop whatever it
 * started in turn (npm's server, say).
 *
 * @example
 * ```ts
 * const server = start(process.execPath, ["dist/cli/main.js", "serve"], { PORT: "0", HOST: "127.0.0.1" });
 * const [, port] = await server.waitFor(LISTENING);
 * ```
 */
export function start(command: string, args: string[], env: Record<string, string | undefined>): Program {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CONFIG.test(name)));
  const child = spawn(command, args, { cwd: ROOT, env: { ...base, ...env }, detached: true });
  let output = "";
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk) => {
      output += chunk;
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const program: Program = {
    child,
    output: () => output,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            listeners.delete(check);
            resolve(match);
          }
        };
        listeners.add(check);
        check();
        void exited.then(({ code, signal }) =>
          reject(new Error(`exited (${code ?? signal}) before ${pattern}:\n${output}`)),
        );
      }),
    exited,
  };
  started.push(program);
  return program;
}

/** Sends SIGTERM, as an orchestrator does, and resolves with how the program exited. */
export async function terminate(
  program: Program,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (program.child.exitCode === null && program.child.signalCode === null) program.child.kill("SIGTERM");
  return program.exited;
}

/** Kills the process group of every program started so far: after a failed test, nothing is left running. */
export function killStarted(): void {
  for (const { child } of started.splice(0)) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
}

/** `promise`, or a rejection saying `what` once `ms` have passed: a hang fails with its reason, not a test timeout. */
export function within<T>(ms: number, promise: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`after ${ms} ms: ${what()}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
