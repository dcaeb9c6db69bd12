// No source line over the formatter's width (issue 15). prettier (npm run lint) lays the code out
// at this width but leaves long strings, templates and comments alone: those are split by hand,
// into `+`-joined pieces of the same value, and comments re-wrapped.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const WIDTH = JSON.parse(await readFile(join(repoRoot, ".prettierrc.json"), "utf8")).printWidth as number;
/** Deployed byte for byte to the servers (their hash is provisioned): not reformatted. */
const KEPT_AS_IS = /^src\/model\/render\/assets\/|^test\/fixtures\//;

export function overWidth(files: ReadonlyMap<string, string>, width = WIDTH): string[] {
  const found: string[] = [];
  for (const [file, text] of files) text.split("\n").forEach((line, i) => line.length > width && found.push(`${file}:${i + 1} (${line.length})`));
  return found;
}

describe("source width", () => {
  it(`has no line over ${WIDTH} characters in any source prettier formats`, async () => {
    const listed = await run("git", ["-C", repoRoot, "ls-files", "*.ts", "*.js", "*.mjs", "*.cjs"]);
    const files = new Map<string, string>();
    for (const file of listed.stdout.split("\n").filter((f) => f !== "" && !KEPT_AS_IS.test(f))) files.set(file, await readFile(join(repoRoot, file), "utf8"));
    expect(files.size).toBeGreaterThan(200);
    expect(overWidth(files)).toEqual([]);
  });

  it("finds a line over the width (so a pass means something)", () => {
    expect(overWidth(new Map([["a.ts", `ok\n${"x".repeat(WIDTH + 1)}\n`]]))).toEqual([`a.ts:2 (${WIDTH + 1})`]);
  });
});
