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

/** Folders that are reached from outside only through their entry points. */
const ENTRY_POINTS: Readonly<Record<string, readonly string[]>> = {
  // ADR 0002: the one way other layers read the inventory; and what each server runs (docs/roles.md).
  "src/model/": ["src/model/index.ts", "src/model/render/index.ts"],
  "src/readiness/drift/": ["src/readiness/drift/index.ts"],
  "src/readiness/report/": ["src/readiness/report/index.ts"],
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

interface Exception {
  readonly target: string;
  readonly why: string;
  readonly from: readonly string[];
}

/**
 * The bypasses made today, each with why. A new one fails the test (import the entry point, or
 * export what you need through it); so does one listed here that is no longer made (strike it):
 * this list only shrinks.
 */
const EXCEPTIONS: readonly Exception[] = [
  {
    target: "src/readiness/drift/types.ts",
    why:
      "history stores drift runs and drift's run records into history: the store takes only the kinds, " +
      "below drift's entry point, or the two would import each other",
    from: ["src/readiness/history.ts"],
  },
  {
    target: "src/model/types.ts",
    why: "index.ts re-exports these types (export type *); these imports predate it",
    from: [
      "src/provision/program.ts",
      "src/provision/server.ts",
      "src/rehearsal/devices.ts",
      "src/rehearsal/drill/run.ts",
      "src/rehearsal/drill/scenarios.ts",
      "src/rehearsal/drill/scope.ts",
      "src/rehearsal/plan.ts",
      "src/rehearsal/responders.ts",
    ],
  },
  {
    target: "src/model/render/types.ts",
    why: "render/index.ts re-exports these types (export type *); these imports predate it",
    from: ["src/cli/commands/drift.ts", "src/probe/facts.ts", "src/provision/program.ts", "src/provision/server.ts"],
  },
  {
    target: "src/model/render/paths.ts",
    why: "render/index.ts re-exports the paths a server's files live at; these imports predate it",
    from: ["src/probe/probes/checkin.ts", "src/probe/targets.ts", "src/provision/program.ts"],
  },
  {
    target: "src/model/load.ts",
    why: "index.ts exports loadInventory; this import predates it",
    from: ["src/provision/program.ts"],
  },
  {
    target: "src/model/dates.ts",
    why: "index.ts exports the date functions; this import predates it",
    from: ["src/provision/program.ts"],
  },
  {
    target: "src/model/finding.ts",
    why: "other layers report findings on their own files (the check catalog, stack settings) with the model's FindingSink, which index.ts does not export",
    from: ["src/probe/catalog/load.ts", "src/probe/stackconfig.ts", "src/provision/program.ts", "src/provision/stackfile.ts"],
  },
  {
    target: "src/model/schema/core.ts",
    why: "the schema combinators: the check catalog and a stack's settings are validated with them, outside the inventory's contract",
    from: ["src/probe/catalog/load.ts", "src/probe/catalog/schema.ts"],
  },
  {
    target: "src/model/schema/scalars.ts",
    why: "the schema's scalars (CIDR, durations…) for the check catalog and stack settings",
    from: ["src/probe/catalog/schema.ts"],
  },
  {
    target: "src/model/read.ts",
    why: "the check catalog is read with the inventory's own bounded reader (positions, limits)",
    from: ["src/probe/catalog/load.ts"],
  },
  {
    target: "src/model/parse.ts",
    why: "the check catalog is parsed with the inventory's own YAML pass (positions)",
    from: ["src/probe/catalog/load.ts"],
  },
  {
    target: "src/model/scan.ts",
    why: "the check catalog is scanned with the inventory's own scanner (positions)",
    from: ["src/probe/catalog/load.ts"],
  },
  {
    target: "src/model/source.ts",
    why: "the check catalog's findings point into its source the inventory's way",
    from: ["src/probe/catalog/load.ts"],
  },
  {
    target: "src/model/suggest.ts",
    why: '"did you mean" for names in the check catalog and targets',
    from: ["src/probe/catalog/condition.ts", "src/probe/catalog/load.ts", "src/probe/targets.ts"],
  },
  {
    target: "src/model/sshkey.ts",
    why: "SSH public keys parsed field by field (RFC 4253/5656/8709) for the probes and the sign-off; not part of the inventory's contract",
    from: [
      "src/probe/catalog/evaluate.ts",
      "src/probe/probes/checkin-record.ts",
      "src/probe/probes/checkin.ts",
      "src/probe/probes/ssh.ts",
      "src/probe/probes/sshexec.ts",
      "src/readiness/signoff.ts",
    ],
  },
  {
    target: "src/model/net.ts",
    why: "addresses and CIDR blocks, one home for probing, provisioning and the rehearsal; not yet behind index.ts",
    from: ["src/probe/probes/checkin-record.ts", "src/provision/remote/ssh.ts", "src/rehearsal/plan.ts"],
  },
  {
    target: "src/model/allow.ts",
    why: "the network-safety guard, one home for probing and provisioning; not yet behind index.ts",
    from: ["src/probe/allow.ts", "src/provision/remote/ssh.ts"],
  },
  {
    target: "src/model/pins.ts",
    why: "a stack's pins overlay (the rehearsal's host keys): stack state, not the inventory",
    from: ["src/probe/run.ts", "src/probe/targets.ts", "src/provision/program.ts", "src/readiness/drift/run.ts", "src/rehearsal/drill/run.ts"],
  },
  {
    target: "src/model/stackfile.ts",
    why: "a stack's settings file, read with the model's machinery: stack state, not the inventory",
    from: ["src/probe/stackconfig.ts", "src/provision/config.ts", "src/provision/stackfile.ts", "src/readiness/drift/run.ts"],
  },
  {
    target: "src/model/monitoring.ts",
    why: "the Prometheus/blackbox configuration `amadegi export` writes",
    from: ["src/probe/export.ts"],
  },
  {
    target: "src/model/annotations.ts",
    why: "validate's findings as GitHub annotations: the CLI's alone",
    from: ["src/cli/commands/validate.ts"],
  },
  {
    target: "src/model/synthetic/national.ts",
    why: "`amadegi generate`: a generator of inventories, not the inventory",
    from: ["src/cli/commands/generate.ts"],
  },
];

/** Bypasses made and not listed, and listed ones no longer made. */
function against(found: readonly string[], exceptions: readonly Exception[]): { unlisted: string[]; stale: string[] } {
  const listed = new Set(exceptions.flatMap((e) => e.from.map((from) => `${from} → ${e.target}`)));
  return { unlisted: found.filter((b) => !listed.has(b)), stale: [...listed].filter((b) => !found.includes(b)).sort() };
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

  it("reach a folder with an entry point only through it, beyond the exceptions listed", () => {
    expect(against(bypasses(graph), EXCEPTIONS).unlisted).toEqual([]);
  });

  it("still make every exception listed (strike the ones that are gone)", () => {
    expect(against(bypasses(graph), EXCEPTIONS).stale).toEqual([]);
  });

  it("list exceptions that are bypasses, each with a reason", () => {
    for (const e of EXCEPTIONS) {
      expect(e.why.length, e.target).toBeGreaterThan(20);
      expect(
        Object.entries(ENTRY_POINTS).some(([folder, entries]) => e.target.startsWith(folder) && !entries.includes(e.target)),
        e.target,
      ).toBe(true);
    }
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
    const listed: Exception[] = [{ target: "src/model/pins.ts", why: "stack state", from: ["src/probe/facts.ts", "src/probe/gone.ts"] }];
    expect(against(found, listed)).toEqual({
      unlisted: ["src/probe/facts.ts → src/model/render/types.ts", "src/readiness/gate.ts → src/readiness/drift/latest.ts"],
      stale: ["src/probe/gone.ts → src/model/pins.ts"],
    });
  });

  it("the lint rule refuses a bypass of drift's and the report's entry points, and lets the entry points through", async () => {
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
      'import type { DriftKind } from "../../readiness/drift/types.ts";',
    ].join("\n");
    expect(await lint("src/readiness/gate.ts", text)).toEqual(["1: no-restricted-imports", "3: no-restricted-imports", "5: no-restricted-imports"]);
    expect(await lint("src/readiness/drift/index.ts", 'export { runDrift } from "./run.ts";\nexport type * from "./types.ts";')).toEqual([]);
  });
});
