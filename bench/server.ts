import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** How to start the service under test. */
export interface ServerOptions {
  /** What {@link build} returned: `dist/cli/main.js` is started from there. */
  root: string;
  /** Environment of the child, on top of PATH (secrets, DATABASE_URL or DATA_DIR). */
  env: Record<string, string>;
  /** Where the server's stdout and stderr (its log) go. */
  logFile: string;
  /** Extra Node.js flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/**
 * Compiles the sources into a private copy under `node_modules/.cache` (what `npm start` runs, without racing a
 * concurrent `npm run build` over `dist/`), with the migrations beside it where `migrate.ts` looks for them. A type
 * error elsewhere in a work in progress does not stop the emit, so it only warns. Returns the copy's root.
 */
export function build(root: string): string {
  const out = join(root, "node_modules/.cache/clerk-user-sync-bench");
  rmSync(out, { recursive: true, force: true });
  const result = spawnSync(
    join(root, "node_modules/.bin/tsc"),
    [
      "-p",
      "tsconfig.build.json",
      "--outDir",
      join(out, "dist"),
      "--declaration",
      "false",
      "--sourceMap",
      "false",
    ],
    { cwd: root, encoding: "utf8" },
  );
  if (result.status !== 0) {
    console.warn(
      `warning: tsc reported errors:\n${(result.stdout ?? "").split("\n").slice(0, 5).join("\n")}`,
    );
  }
  if (!existsSync(join(out, "dist/cli/main.js"))) throw new Error("the build produced no dist/cli/main.js");
  cpSync(join(root, "drizzle"), join(out, "drizzle"), { recursive: true });
  // Module type is looked up no further than the enclosing node_modules.
  writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }));
  return out;
}

/**
 * The Node.js flags `npm start` runs the server with (its heap limits), read from the project's `start` script, so
 * that the bench measures the same process.
 */
export function startFlags(root: string): string[] {
  const scripts = (
    JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts?: { start?: string } }
  ).scripts;
  const match = /\bnode\s+(.*?)\s*dist\/cli\/main\.js\b/.exec(scripts?.start ?? "");
  return (match?.[1] ?? "").split(/\s+/).filter((flag) => flag.startsWith("--"));
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * `clerk-user-sync serve` as a child process, the way `npm start` runs it, with its resident memory sampled every
 * 100 ms (Linux `/proc`; elsewhere the peak stays 0).
 *
 * @example
 * ```ts
 * const server = await BenchServer.start({ root, env, logFile }, port);
 * console.log(server.peakRssMb, server.cpuSeconds());
 * await server.stop();
 * ```
 */
export class BenchServer {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  readonly #sampler: NodeJS.Timeout;
  #peakRssKb = 0;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    this.#exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    this.#sampler = setInterval(() => {
      this.#peakRssKb = Math.max(this.#peakRssKb, this.rssKb());
    }, 100);
  }

  static async start(options: ServerOptions, port: number): Promise<BenchServer> {
    const log = openSync(options.logFile, "w");
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "dist/cli/main.js", "serve"], {
      cwd: options.root,
      env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), ...options.env },
      stdio: ["ignore", log, log],
    });
    const server = new BenchServer(child, port);
    let exited = false;
    void server.#exited.then(() => (exited = true));
    for (let attempt = 0; attempt < 300 && !exited; attempt++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return server;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await server.stop();
    throw new Error(`the server did not start; its log: ${options.logFile}`);
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** The highest resident set size seen so far, in MiB. */
  get peakRssMb(): number {
    return Math.round(this.#peakRssKb / 1024);
  }

  /** Current resident set size in KiB (0 where `/proc` is missing). */
  rssKb(): number {
    const match = /VmRSS:\s+(\d+)/.exec(readProc(`/proc/${this.pid}/status`));
    return match ? Number(match[1]) : 0;
  }

  /** CPU time (user + system) the server has used so far, in seconds. */
  cpuSeconds(): number {
    return cpuSecondsOf(this.pid);
  }

  /** System (kernel) CPU time the server has used so far, in seconds. */
  systemSeconds(): number {
    return cpuSecondsOf(this.pid, "system");
  }

  /** The Prometheus text of `GET /metrics`. */
  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
  }

  /** SIGTERM, as an orchestrator would: in-flight deliveries finish; resolves with the exit code. */
  async stop(): Promise<number | null> {
    clearInterval(this.#sampler);
    if (this.#child.exitCode === null) this.#child.kill("SIGTERM");
    return this.#exited;
  }
}

/** CPU time (user + system, or system only) of a process, in seconds, from `/proc/<pid>/stat` (0 where missing). */
export function cpuSecondsOf(pid: number, which: "all" | "system" = "all"): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readProc(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const system = Number(fields[12] ?? 0);
  return (which === "system" ? system : Number(fields[11] ?? 0) + system) / CLOCK_TICKS;
}

/** Linux's USER_HZ: 100 on every mainstream architecture. */
const CLOCK_TICKS = 100;

function readProc(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
