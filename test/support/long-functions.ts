import { fileURLToPath } from "node:url";
import { type Node, type SourceFile, SyntaxKind } from "typescript/unstable/ast";
import { API } from "typescript/unstable/sync";

/** One function of src/ and how many lines a reader scrolls through to read it. */
export interface FunctionLength {
  /** Path under the repository, e.g. "src/sync.ts". */
  file: string;
  /**
   * The declared name, or the name of what holds it (`const x = () => …`, a property, a method); an anonymous
   * callback is named after the function it is written in: `(callback in consolePlugin)`.
   */
  name: string;
  line: number;
  /** Lines from the signature to the closing brace, minus the text lines of multi-line template literals (SQL, HTML). */
  lines: number;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const FUNCTION_KINDS = new Set<SyntaxKind>([
  SyntaxKind.FunctionDeclaration,
  SyntaxKind.FunctionExpression,
  SyntaxKind.ArrowFunction,
  SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor,
  SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor,
]);

const TEMPLATE_KINDS = new Set<SyntaxKind>([
  SyntaxKind.NoSubstitutionTemplateLiteral,
  SyntaxKind.TemplateExpression,
]);

function nameOf(node: Node, file: SourceFile): string {
  const own = (node as { name?: Node }).name;
  if (own) return own.getText(file);
  const holder = node.parent as { kind: SyntaxKind; name?: Node } | undefined;
  if (
    holder?.name &&
    (holder.kind === SyntaxKind.VariableDeclaration || holder.kind === SyntaxKind.PropertyAssignment)
  )
    return holder.name.getText(file);
  for (let outer = node.parent; outer; outer = outer.parent)
    if (FUNCTION_KINDS.has(outer.kind)) return `(callback in ${nameOf(outer, file)})`;
  return "(anonymous)";
}

/** Lines of `node` that are the text of a multi-line template literal: SQL and markup, read as data, not code. */
function templateTextLines(node: Node, file: SourceFile): number {
  let lines = 0;
  const visit = (child: Node): void => {
    if (TEMPLATE_KINDS.has(child.kind)) {
      const first = file.getLineAndCharacterOfPosition(child.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(child.end).line;
      lines += Math.max(0, last - first - 1);
      return;
    }
    child.forEachChild(visit);
  };
  node.forEachChild(visit);
  return lines;
}

function measure(file: SourceFile, relativePath: string): FunctionLength[] {
  const found: FunctionLength[] = [];
  const visit = (node: Node): void => {
    if (FUNCTION_KINDS.has(node.kind) && (node as { body?: Node }).body) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.end).line;
      found.push({
        file: relativePath,
        name: nameOf(node, file),
        line: first + 1,
        lines: last - first + 1 - templateTextLines(node, file),
      });
    }
    node.forEachChild(visit);
  };
  file.forEachChild(visit);
  return found;
}

/** The projects whose files are measured. */
const PROJECTS = ["tsconfig.json", "src/console/browser/tsconfig.json"];

/**
 * Every function with a body in the given files (paths under the repository), measured on the syntax tree that
 * TypeScript's own parser builds, so strings, regular expressions and comments never confuse the count.
 */
export function functionLengths(paths: readonly string[]): FunctionLength[] {
  const api = new API({ cwd: ROOT });
  try {
    // The console's browser script is its own project (the DOM's types), outside tsconfig.json's.
    const snapshot = api.updateSnapshot({ openProjects: PROJECTS });
    const projects = snapshot.getProjects();
    return paths.flatMap((path) => {
      const file = projects
        .map((project) => project.program.getSourceFile(`${ROOT}${path}`))
        .find((f) => f !== undefined);
      if (!file) throw new Error(`${path} is in none of ${PROJECTS.join(", ")}`);
      return measure(file, path);
    });
  } finally {
    api.close();
  }
}
