// docs/architecture.md and CONTRIBUTING.md are where a newcomer finds their room (issue 15): every
// path they name must exist, so a file moved without its map fails here.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

const TOP = new Set(["docs", "src", "test", "scripts", "stacks", "checks", "inventory", "governance", "bin", ".github", ".ci", "reports"]);

/**
 * Paths a text names: `code spans` with a slash, and bare docs/… and src/… references. In a table
 * row whose first cell names a directory (`src/model/`), a path that does not start at the top of
 * the tree (`render/types.ts`) is that directory's.
 */
export function namedPaths(text: string): string[] {
  const found = new Set<string>();
  for (const line of text.split("\n")) {
    const row = /^\| `([^`]+\/)` \|/.exec(line)?.[1];
    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
      const token = (m[1] ?? "").replace(/[.,:;]+$/, "");
      if (!token.includes("/") || /[<>*{}]|^\.\.|^--|:\/\/|^amadegi:|^\.amadegi|^@/.test(token)) continue;
      found.add(row !== undefined && !TOP.has(token.split("/")[0] ?? "") ? `${row}${token}` : token);
    }
  }
  for (const m of text.matchAll(/(?:^|[\s(])((?:docs|src|test|scripts|stacks|checks|inventory|governance)\/[\w./-]*\w)/g)) {
    const token = m[1] ?? "";
    if (!/[<>*]/.test(token)) found.add(token);
  }
  return [...found].sort();
}

describe("the maps of the tree", () => {
  it.each(["docs/architecture.md", "CONTRIBUTING.md"])("%s names only paths that exist", async (doc) => {
    const paths = namedPaths(await readFile(join(repoRoot, doc), "utf8"));
    expect(paths.length).toBeGreaterThan(doc === "CONTRIBUTING.md" ? 5 : 40);
    expect(paths.filter((p) => !existsSync(join(repoRoot, p)))).toEqual([]);
  });

  it("finds a path that does not exist (so a pass means something)", () => {
    const paths = namedPaths("see `src/model/nowhere.ts` and docs/missing.md, not `<verb>.ts` or `--inventory DIR`");
    expect(paths).toEqual(["docs/missing.md", "src/model/nowhere.ts"]);
    expect(paths.filter((p) => !existsSync(join(repoRoot, p)))).toEqual(paths);
  });
});
