// Imports in src/ form no cycle, and a folder with an entry point is reached from outside it
// only through that entry point (issue 15). Every import counts — type-only ones, re-exports,
// dynamic import(), `import("…")` types — as TypeScript's own parser reads it. The directions
// between layers are layers.test.ts's; the lint rule for the entry points is in eslint.config.js.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { ESLint, Linter } from "eslint";
import ts from "typescript";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

/** Each module (a path from the repository root) and the modules it imports. */
type Graph = ReadonlyMap<string, readonly string[]>;

/** What import() was given when it is not a string: an edge no checker can follow. */
const NOT_A_LITERAL = "<not a string literal>";

/** The module specifiers a source names: imports, re-exports, import(), import types. */
export function specifiers(text: string, name = "module.ts"): string[] {
  const source = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      found.push(arg !== undefined && ts.isStringLiteralLike(arg) ? arg.text : NOT_A_LITERAL);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The graph of relative imports among `sources` (path → text), each resolved to a file; what
 * resolves to no source and no other file (`exists`) is a problem, and so is an import() the
 * parser cannot follow. Packages and node: built-ins are not edges.
 */
export function graphOf(sources: ReadonlyMap<string, string>, exists: (path: string) => boolean = () => false): { graph: Graph; problems: string[] } {
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const [file, text] of sources) {
    const targets = new Set<string>();
    for (const spec of specifiers(text, file)) {
      if (spec === NOT_A_LITERAL) problems.push(`${file}: import() of an expression, which no checker can follow`);
      if (!spec.startsWith(".")) continue;
      const target = join(dirname(file), spec);
      if (sources.has(target)) targets.add(target);
      else if (!exists(target)) problems.push(`${file} imports ${spec}: no such file`);
    }
    graph.set(file, [...targets]);
  }
  return { graph, problems };
}

/** Strongly connected components (Tarjan), each in discovery order. */
function components(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    found.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** The shortest chain of imports from `start` back to it, through `members` only. */
function shortestLoop(graph: Graph, start: string, members: ReadonlySet<string>): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    if (v === undefined) break;
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (w === start) {
        const chain = [v];
        for (let at = cameFrom.get(v); at !== undefined; at = cameFrom.get(at)) chain.unshift(at);
        return [...chain, start];
      }
      if (members.has(w) && !cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/**
 * Every import cycle, one line per tangle of modules that import one another: the shortest
 * chain through its first module (`a → b → a`), and the tangle's other modules after it.
 */
export function cycles(graph: Graph): string[] {
  const out: string[] = [];
  for (const component of components(graph)) {
    const [first] = [...component].sort();
    if (first === undefined || (component.length === 1 && !(graph.get(first) ?? []).includes(first))) continue;
    const chain = shortestLoop(graph, first, new Set(component));
    const others = component.filter((m) => !chain.includes(m)).sort();
    out.push(`${chain.join(" → ")}${others.length > 0 ? ` (tangled with it: ${others.join(", ")})` : ""}`);
  }
  return out.sort();
}

/**
 * Folders that are reached from outside only through their entry points, each with why it is one.
 * A new entry point is a decision: add it here with its reason, in docs/architecture.md, and in
 * eslint.config.js's no-restricted-imports (which says the same to an editor).
 */
const ENTRY_POINTS: Readonly<Record<string, readonly string[]>> = {
  "src/model/": [
    // ADR 0002: the one way other layers read the inventory, and the ideas every layer shares
    // (link rules, addresses, the allow-list, SSH keys, a stack's settings and pins, waivers).
    "src/model/index.ts",
    // What each server runs (docs/roles.md), for provisioning, drift and the probes.
    "src/model/render/index.ts",
    // The inventory's reading machinery, for the project's other YAML files (the check catalog).
    "src/model/kit.ts",
    // `amadegi generate`: a generator of inventories, not the inventory.
    "src/model/synthetic/national.ts",
  ],
  "src/readiness/drift/": [
    "src/readiness/drift/index.ts",
    // The report's kinds without the behaviour: history stores them, and drift's run writes to
    // history, so history reaching them through index.ts would make a cycle.
    "src/readiness/drift/types.ts",
  ],
  "src/readiness/report/": ["src/readiness/report/index.ts"],
  // A campaign's lanes and what they share are its own; the rest of the prober runs it.
  "src/probe/campaign/": ["src/probe/campaign/index.ts"],
};

/** Every import of a folder's module, from outside the folder, that is not one of its entry points: `from → target`. */
export function bypasses(graph: Graph, entryPoints: Readonly<Record<string, readonly string[]>> = ENTRY_POINTS): string[] {
  const out = new Set<string>();
  for (const [from, targets] of graph) {
    for (const target of targets) {
      for (const [folder, entries] of Object.entries(entryPoints)) {
        if (target.startsWith(folder) && !from.startsWith(folder) && !entries.includes(target)) out.add(`${from} → ${target}`);
      }
    }
  }
  return [...out].sort();
}

async function sourceGraph(): Promise<{ graph: Graph; problems: string[] }> {
  const entries = await readdir(join(repoRoot, "src"), { withFileTypes: true, recursive: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(repoRoot, join(e.parentPath, e.name)))
    .sort();
  const sources = new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(repoRoot, f), "utf8")] as const)));
  return graphOf(sources, (path) => existsSync(join(repoRoot, path)));
}

describe("imports in src/", async () => {
  const { graph, problems } = await sourceGraph();

  it("reads every module, and every relative import names a file", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.values()].flat().length).toBeGreaterThan(500);
    expect(problems).toEqual([]);
  });

  it("form no cycle", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("reach a folder with an entry point only through it", () => {
    expect(bypasses(graph)).toEqual([]);
  });

  it("name entry points that exist", () => {
    for (const entry of Object.values(ENTRY_POINTS).flat()) expect(graph.has(entry), entry).toBe(true);
  });
});

describe("the checker (so a pass means something)", () => {
  it("sees every kind of import: type-only, re-exports, import(), import types", () => {
    const text = [
      'import { a } from "./a.ts";',
      'import type { B } from "./b.ts";',
      'export { c } from "./c.ts";',
      'export type * from "./d.ts";',
      'import "./e.ts";',
      'const f = await import("./f.ts");',
      'let g: import("./g.ts").G;',
      'import { h } from "node:fs";',
      'const s = "import { x } from \\"./not-an-import.ts\\"";',
      "// import { y } from './comment.ts';",
      "const i = await import(name);",
    ].join("\n");
    expect(specifiers(text)).toEqual(["./a.ts", "./b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts", "node:fs", NOT_A_LITERAL]);
  });

  it("finds each cycle, through type-only and dynamic imports too, and prints it as a chain", () => {
    const { graph, problems } = graphOf(
      new Map([
        ["src/readiness/criteria.ts", 'import type { DriftItem } from "./drift/index.ts";'],
        ["src/readiness/drift/index.ts", 'export { runDrift } from "./run.ts";'],
        ["src/readiness/drift/run.ts", 'import { OUR_TEAM } from "../criteria.ts";\nimport { History } from "../history.ts";'],
        ["src/readiness/history.ts", 'import type { DriftKind } from "./drift/index.ts";'],
        ["src/readiness/gate.ts", 'const { x } = await import("./gate.ts");\nimport { judge } from "./criteria.ts";'],
        ["src/lib/fine.ts", 'import { y } from "./other.ts";'],
        ["src/lib/other.ts", 'import { z } from "node:path";'],
      ]),
    );
    expect(problems).toEqual([]);
    expect(cycles(graph)).toEqual([
      "src/readiness/criteria.ts → src/readiness/drift/index.ts → src/readiness/drift/run.ts → src/readiness/criteria.ts " +
        "(tangled with it: src/readiness/history.ts)",
      "src/readiness/gate.ts → src/readiness/gate.ts",
    ]);
  });

  it("names an import of no file, and an import() it cannot follow", () => {
    const { problems } = graphOf(
      new Map([["src/a.ts", 'import { b } from "./b.ts";\nimport data from "./data.json";\nconst c = await import(`./${name}.ts`);']]),
      (path) => path === "src/data.json",
    );
    expect(problems).toEqual(["src/a.ts imports ./b.ts: no such file", "src/a.ts: import() of an expression, which no checker can follow"]);
  });

  it("finds an import that bypasses an entry point; the entry point and a folder's own imports pass", () => {
    const graph: Graph = new Map([
      ["src/readiness/gate.ts", ["src/readiness/drift/latest.ts", "src/readiness/drift/index.ts", "src/model/index.ts"]],
      ["src/readiness/drift/index.ts", ["src/readiness/drift/latest.ts", "src/model/render/index.ts"]],
      ["src/probe/facts.ts", ["src/model/render/types.ts", "src/model/pins.ts"]],
      ["src/model/load.ts", ["src/model/render/types.ts"]],
    ]);
    const found = bypasses(graph);
    expect(found).toEqual([
      "src/probe/facts.ts → src/model/pins.ts",
      "src/probe/facts.ts → src/model/render/types.ts",
      "src/readiness/gate.ts → src/readiness/drift/latest.ts",
    ]);
  });

  it("the lint rule refuses a bypass of the model's, drift's and the report's entry points, and lets the entry points through", async () => {
    const linter = new Linter({ configType: "flat", cwd: repoRoot });
    const eslint = new ESLint({ cwd: repoRoot });
    const lint = async (filename: string, text: string) => {
      const config: Linter.Config = await eslint.calculateConfigForFile(filename);
      const rule = config.rules?.["no-restricted-imports"];
      expect(rule, filename).toBeDefined();
      const only: Linter.Config = { files: ["**/*.ts"], languageOptions: { parser: tseslint.parser }, rules: { "no-restricted-imports": rule } };
      return linter.verify(text, [only], { filename: join(repoRoot, filename) }).map((m) => `${m.line}: ${m.ruleId ?? m.message}`);
    };
    const text = [
      'import { runDrift } from "./drift/run.ts";',
      'import type { LatestDrift } from "./drift/index.ts";',
      'export { renderHtml } from "./report/html.ts";',
      'import { writeReport } from "./report/index.ts";',
      'import type { DriftKind } from "./drift/types.ts";',
      'import { readPins } from "../model/pins.ts";',
      'import type { Inventory } from "../model/index.ts";',
      'import { FindingSink } from "../model/kit.ts";',
      'import type { ProvisionedServer } from "../model/render/types.ts";',
      'import { renderServer } from "../model/render/index.ts";',
      'import { writeNational } from "../model/synthetic/national.ts";',
      'import { emitDistrict } from "../model/synthetic/emit.ts";',
    ].join("\n");
    expect(await lint("src/readiness/gate.ts", text)).toEqual([
      "1: no-restricted-imports",
      "3: no-restricted-imports",
      "6: no-restricted-imports",
      "9: no-restricted-imports",
      "12: no-restricted-imports",
    ]);
    expect(await lint("src/model/load.ts", 'import { readPins } from "./pins.ts";\nimport type { Server } from "./types.ts";')).toEqual([]);
    expect(await lint("src/readiness/drift/index.ts", 'export { runDrift } from "./run.ts";\nexport type * from "./types.ts";')).toEqual([]);
  });
});
