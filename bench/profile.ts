import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where a server's CPU went, from the `.cpuprofile` that `node --cpu-prof` wrote into `dir`: the share of busy time
 * (idle excluded) by package or source file (self time), and the heaviest functions including what they call.
 *
 * @example
 * ```ts
 * console.log(hotSpots("/tmp/profile").join("\n"));
 * ```
 */
export function hotSpots(dir: string, top = 40): string[] {
  const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
  if (!file) return ["no CPU profile was written"];
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfTime = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const [id, time] of selfTime) {
    const node = byId.get(id) as ProfileNode;
    if (node.callFrame.functionName === "(idle)") continue;
    busy += time;
    add(byPlace, place(node), time);
    const counted = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = functionName(byId.get(at) as ProfileNode);
      if (!counted.has(name)) add(inclusive, name, time);
      counted.add(name);
    }
  }
  const lines = (map: Map<string, number>) =>
    [...map]
      .filter(([name]) => name !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => `  ${((time / busy) * 100).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `busy ${(busy / 1e6).toFixed(1)} s; self time by package or file:`,
    ...lines(byPlace),
    "heaviest functions, including callees:",
    ...lines(inclusive),
  ];
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function place(node: ProfileNode): string {
  const { url, functionName: name } = node.callFrame;
  if (!url) return name || "(native)";
  if (url.includes("/dist/")) return url.replace(/^.*\/dist\//, "dist/");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith("node:")) return "node (core)";
  return url;
}

function functionName(node: ProfileNode): string {
  const { functionName: name, url, lineNumber } = node.callFrame;
  const where = url.includes("/dist/")
    ? url.replace(/^.*\/dist\//, "dist/")
    : url.replace(/^.*node_modules\//, "");
  return `${name || "(anonymous)"} ${where}${where ? `:${lineNumber + 1}` : ""}`;
}
