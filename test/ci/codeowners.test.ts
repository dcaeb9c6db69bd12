// Issue 13, item 3: the committee alone owns what decides a verdict. GitHub gives a path to the
// owners of the last CODEOWNERS line that matches it; this holds the committed file to
// DECIDING_FILES, with a matcher of the patterns GitHub documents (gitignore-like).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DECIDING_FILES } from "../../src/readiness/committed.ts";
import { run } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

interface Rule {
  readonly pattern: RegExp;
  readonly owners: readonly string[];
}

function toRegExp(raw: string): RegExp {
  const dir = raw.endsWith("/");
  let p = dir ? raw.slice(0, -1) : raw;
  const anchored = p.startsWith("/") || p.includes("/");
  p = p.replace(/^\//, "");
  let body = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i] ?? "";
    if (p.startsWith("**/", i)) {
      body += "(?:.*/)?";
      i += 2;
    } else if (p.startsWith("**", i)) {
      body += ".*";
      i += 1;
    } else if (c === "*") body += "[^/]*";
    else if (c === "?") body += "[^/]";
    else body += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // A pattern that names a directory covers everything under it.
  return new RegExp(`^${anchored ? "" : "(?:.*/)?"}${body}${dir ? "/.*" : "(?:/.*)?"}$`);
}

function parse(text: string): Rule[] {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [pattern = "", ...owners] = line.split(/\s+/);
      return { pattern: toRegExp(pattern), owners };
    });
}

/** The owners GitHub asks for a path: the last matching line's. */
function owners(rules: readonly Rule[], path: string): readonly string[] {
  return rules.findLast((r) => r.pattern.test(path))?.owners ?? [];
}

/** The committee's team (README "CI workflows"). */
const COMMITTEE = "@amadegi/it-committee";

/** Every path not owned by the committee's team alone, with who owns it. */
function offenders(text: string, paths: readonly string[], team = COMMITTEE): string[] {
  const rules = parse(text);
  const alone = (o: readonly string[]) => o.length === 1 && o[0] === team;
  return paths.filter((p) => !alone(owners(rules, p))).map((p) => `${p}: ${owners(rules, p).join(" ") || "no owner"}`);
}

async function decidingPaths(): Promise<string[]> {
  const tracked = await run("git", ["-C", repoRoot, "ls-files", "--", ...DECIDING_FILES]);
  expect(tracked.code).toBe(0);
  // A file added later under a deciding directory is the committee's too.
  const added = DECIDING_FILES.filter((f) => f.endsWith("/")).map((f) => `${f}added-later.yaml`);
  return [
    ...new Set([...DECIDING_FILES.filter((f) => !f.endsWith("/")), ...tracked.stdout.split("\n").filter((l) => l !== ""), ...added, ".github/CODEOWNERS"]),
  ];
}

describe("CODEOWNERS", () => {
  it("gives every file that decides a verdict, and itself, to the committee alone", async () => {
    const text = await readFile(join(repoRoot, ".github", "CODEOWNERS"), "utf8");
    const paths = await decidingPaths();
    expect(paths).toEqual(expect.arrayContaining(["inventory/election.yaml", "inventory/waivers.yaml", "governance/committee.yaml", "checks/links.yaml"]));
    expect(offenders(text, paths)).toEqual([]);
  });

  it("leaves the inventory editors' own files to them (so the check above tells files apart)", async () => {
    const rules = parse(await readFile(join(repoRoot, ".github", "CODEOWNERS"), "utf8"));
    expect(owners(rules, "inventory/districts/pakdasht.yaml")).toEqual([]);
    expect(owners(rules, "inventory/operators.yaml")).toEqual([]);
  });

  it.each([
    [
      "a later line that takes a deciding file over",
      "/governance/ @c\n/inventory/election.yaml @c\n/checks/ @c\n/inventory/ @editors\n",
      ["inventory/election.yaml: @editors"],
    ],
    [
      "a deciding file shared with another team",
      "/governance/ @c\n/inventory/election.yaml @c @editors\n/checks/ @c\n",
      ["inventory/election.yaml: @c @editors"],
    ],
    ["a deciding file with no line", "/governance/ @c\n/checks/ @c\n", ["inventory/election.yaml: no owner"]],
    [
      "an unanchored pattern taking everything YAML over",
      "/governance/ @c\n/inventory/election.yaml @c\n/checks/ @c\n*.yaml @editors\n",
      ["governance/committee.yaml: @editors", "inventory/election.yaml: @editors", "checks/links.yaml: @editors"],
    ],
    ["a directory pattern without its leading slash", "governance/ @c\ninventory/election.yaml @c\nchecks/**/*.yaml @c\n", []],
  ])("finds %s", (_name, text, expected) => {
    expect(offenders(text, ["governance/committee.yaml", "inventory/election.yaml", "checks/links.yaml"], "@c")).toEqual(expected);
  });
});
