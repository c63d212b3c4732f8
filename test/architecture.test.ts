import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

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
  ])("has one module that $what", ({ pattern, only }) => {
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const found = files.filter((file) => pattern.test(readFileSync(join(SRC, file), "utf8")));
    expect(found).toEqual(only === undefined ? [] : [only]);
  });
});
