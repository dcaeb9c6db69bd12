// Test helpers for the model: copy a fixture inventory to a temporary
// directory, edit it, load it. Fixtures are real files under test/fixtures.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { type Finding, loadInventory, type LoadResult } from "../../src/model/index.ts";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "inventory");
/** The day every model test checks against: 1405-09-01. */
export const TODAY = "2026-11-22";

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh copy of a fixture; returns the repository-shaped root (holding inventory/ and governance/). */
export async function copyFixture(name = "minimal"): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "amadegi-model-"));
  made.push(root);
  await cp(join(FIXTURES, name), root, { recursive: true });
  return root;
}

/** Replace the one occurrence of `find` in a file (fails if it is not there exactly once). */
export async function edit(root: string, file: string, find: string | RegExp, replace: string): Promise<void> {
  const path = join(root, file);
  const text = await readFile(path, "utf8");
  const count = typeof find === "string" ? text.split(find).length - 1 : (text.match(new RegExp(find.source, "g")) ?? []).length;
  if (count !== 1) throw new Error(`${file}: expected one "${String(find)}", found ${count}`);
  await writeFile(path, text.replace(find, replace));
}

export interface Edit {
  readonly file: string;
  readonly find: string | RegExp;
  readonly replace: string;
}

export async function load(root: string, today = TODAY): Promise<LoadResult> {
  return loadInventory(join(root, "inventory"), { today });
}

/** A finding as the tables state it: the file relative to the root. */
export interface Expected {
  readonly rule: string;
  readonly item: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly waived?: string;
}

export function shape(root: string, f: Finding): Expected {
  return {
    rule: f.rule,
    item: f.item,
    file: f.file.startsWith(root) ? f.file.slice(root.length + 1) : f.file,
    line: f.line,
    col: f.col,
    ...(f.waived === undefined ? {} : { waived: f.waived }),
  };
}

/** Apply edits to a fresh minimal inventory and return its findings, shaped. */
export async function findingsAfter(edits: readonly Edit[], today = TODAY): Promise<{ found: Expected[]; result: LoadResult; root: string }> {
  const root = await copyFixture();
  for (const e of edits) await edit(root, e.file, e.find, e.replace);
  const result = await load(root, today);
  return { found: result.findings.map((f) => shape(root, f)), result, root };
}
