import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type FunctionLength, functionLengths } from "./support/long-functions.js";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Every module of src/ and the modules of src/ it imports or re-exports from (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(SRC, file), "utf8");
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)].map((m) =>
      relative(SRC, resolve(dirname(join(SRC, file)), (m[1] as string).replace(/\.js$/, ".ts"))),
    );
    graph.set(file, targets);
  }
  return graph;
}

/** The first import cycle found, as the path around it; undefined when there is none. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("the module graph of src/", () => {
  const graph = importGraph();

  it("is read whole: every relative import names a module of src/", () => {
    expect(graph.size).toBeGreaterThan(20);
    expect(graph.get("sync.ts")).toEqual(
      expect.arrayContaining(["response.ts", "errors.ts", "store/writer.ts"]),
    );
    expect(graph.get("adapters/express.ts")).toEqual(expect.arrayContaining(["sync.ts", "response.ts"]));
    for (const [file, targets] of graph)
      for (const t of targets) expect(graph.has(t), `${file} → ${t}`).toBe(true);
  });

  it("has no import cycle", () => {
    expect(findCycle(graph)).toBeUndefined();
  });

  it("finds a cycle when there is one (the check can fail)", () => {
    expect(
      findCycle(
        new Map([
          ["a.ts", ["b.ts"]],
          ["b.ts", ["c.ts"]],
          ["c.ts", ["a.ts"]],
        ]),
      ),
    ).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
  });

  it("keeps the core free of adapters and the service: they import it, never the other way", () => {
    for (const core of [
      "sync.ts",
      "response.ts",
      "errors.ts",
      "decode.ts",
      "verify.ts",
      "clean.ts",
      "limits.ts",
    ]) {
      for (const target of graph.get(core) ?? [])
        expect(target, core).not.toMatch(/^(adapters|service|cli)\//);
    }
  });

  // One of each: a second copy of these is how next.ts once dropped an observer hook.
  it.each([
    { what: "reads a Node stream's body", pattern: /\.on\("data"/, only: "body.ts" },
    { what: "builds a Fetch Response", pattern: /new Response\(/, only: "response.ts" },
    {
      what: "writes the default logger's console lines",
      pattern: /console\.(warn|error)\(`\[clerk-user-sync\]/,
      only: "log.ts",
    },
    { what: "builds an error body", pattern: /JSON\.stringify\(\{\s*code\b/, only: undefined },
    {
      what: "answers through a Fastify reply",
      pattern: /\.code\([^)]*\)\s*\.headers\(/,
      only: "response.ts",
    },
    { what: "names the JSON content type", pattern: /application\/json; charset=utf-8/, only: "response.ts" },
    { what: "reads a network error", pattern: /function networkReason\(/, only: "network.ts" },
    { what: "reads Retry-After", pattern: /function retryAfter\(/, only: "network.ts" },
    { what: "writes a time as ISO 8601", pattern: /function iso\(/, only: "time.ts" },
    { what: "reads a string field", pattern: /function text\(value: unknown\)/, only: "fields.ts" },
    { what: "tells a JSON object", pattern: /function isObject\(/, only: "fields.ts" },
  ])("has one module that $what", ({ pattern, only }) => {
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const found = files.filter((file) => pattern.test(readFileSync(join(SRC, file), "utf8")));
    expect(found).toEqual(only === undefined ? [] : [only]);
  });
});

/** How long a function may be: what fits on a screen, not counting the SQL text or markup it holds. */
const SCREEN = 80;

/**
 * Functions over {@link SCREEN} lines that another change is splitting: each entry names its file and function, and
 * goes when that change lands. SQL and table builders may be listed here only when their length is their data.
 */
const LONG_FOR_NOW = new Set<string>([]);

function tooLong(lengths: readonly FunctionLength[], allowed: ReadonlySet<string>): string[] {
  return lengths
    .filter((f) => f.lines > SCREEN && !allowed.has(`${f.file} ${f.name}`))
    .map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`);
}

describe("the functions of src/", () => {
  it("fit on a screen: none over 80 lines outside SQL text", () => {
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `src/${f}`);
    const lengths = functionLengths(files);
    expect(lengths.find((f) => f.name === "createClerkUserSync")?.lines).toBeGreaterThan(20);
    expect(tooLong(lengths, LONG_FOR_NOW)).toEqual([]);
    // An entry whose function now fits, or is gone, is taken off the list.
    const stillLong = new Set(lengths.filter((f) => f.lines > SCREEN).map((f) => `${f.file} ${f.name}`));
    expect([...LONG_FOR_NOW].filter((entry) => !stillLong.has(entry))).toEqual([]);
  });

  it("are measured so that a long one is found and SQL text is not counted (the check can fail)", () => {
    const lengths = functionLengths(["test/fixtures/function-lengths.ts"]);
    expect(lengths.map(({ name, lines }) => ({ name, lines }))).toEqual([
      { name: "tooLong", lines: 88 },
      { name: "mostlySql", lines: 4 },
    ]);
    expect(tooLong(lengths, new Set())).toEqual(["test/fixtures/function-lengths.ts:3 tooLong (88 lines)"]);
  });
});
