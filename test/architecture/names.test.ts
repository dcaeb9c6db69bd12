// Every test file is named after the source it tests (issue 15), so a source's tests are found from
// its path: test/<path>/<name>.test.ts tests src/<path>/<name>.ts (or the folder src/<path>/<name>/),
// test/<path>/<name>.<aspect>.test.ts one aspect of it. test/architecture/ and test/ci/ test the
// repository as a whole (its structure, its workflows), not one source; helpers are not tests.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

const WHOLE = /^test\/(architecture|ci)\//;
/** Test files named after no source, each with the reason (aim for none). */
const EXCEPTIONS: ReadonlyMap<string, string> = new Map<string, string>([]);

/** What test/<path>/<stem>.test.ts may test: src/<path>/<stem>(.ts), or without its last `.<aspect>`. */
export function sourcesOf(test: string): string[] {
  const stem = test.replace(/^test\//, "src/").replace(/\.test\.ts$/, "");
  const dot = stem.lastIndexOf(".");
  const names = dot > stem.lastIndexOf("/") ? [stem, stem.slice(0, dot)] : [stem];
  return names.flatMap((name) => [`${name}.ts`, name]);
}

/** The test files in `tests` named after nothing in `sources` (repository paths of src/'s files and folders). */
export function unnamed(tests: readonly string[], sources: ReadonlySet<string>, exceptions: ReadonlyMap<string, string> = EXCEPTIONS): string[] {
  return tests.filter((t) => !WHOLE.test(t) && !exceptions.has(t) && !sourcesOf(t).some((s) => sources.has(s))).sort();
}

async function under(dir: string): Promise<string[]> {
  return (await readdir(join(repoRoot, dir), { recursive: true })).map((p) => `${dir}/${p}`);
}

describe("test file names", () => {
  it("names every test after the source it tests", async () => {
    const tests = (await under("test")).filter((p) => p.endsWith(".test.ts"));
    const sources = new Set(await under("src"));
    expect(tests.length).toBeGreaterThan(100);
    expect(unnamed(tests, sources)).toEqual([]);
    // An exception that is no longer needed, or names a file that is gone, goes.
    expect([...EXCEPTIONS.keys()].filter((t) => !tests.includes(t) || unnamed([t], sources, new Map()).length === 0)).toEqual([]);
  });

  it("names the tests named after no source (so a pass means something)", () => {
    const sources = new Set(["src/lib/state.ts", "src/model/render", "src/model/render/index.ts", "src/cli/commands/gate.ts"]);
    const tests = [
      "test/lib/state.test.ts",
      "test/lib/state.dir.test.ts",
      "test/model/render.test.ts",
      "test/model/render/index.validate.test.ts",
      "test/cli/commands/gate.attacks.test.ts",
      "test/architecture/anything.test.ts",
      "test/ci/workflow.test.ts",
      "test/cli/gate.test.ts",
      "test/lib/state-dir.test.ts",
      "test/lib/state.dir.more.test.ts",
      "test/model/render/render.test.ts",
      "test/readiness/gate.drift.test.ts",
    ];
    expect(unnamed(tests, sources)).toEqual([
      "test/cli/gate.test.ts",
      "test/lib/state-dir.test.ts",
      "test/lib/state.dir.more.test.ts",
      "test/model/render/render.test.ts",
      "test/readiness/gate.drift.test.ts",
    ]);
    expect(unnamed(["test/cli/gate.test.ts"], sources, new Map([["test/cli/gate.test.ts", "why"]]))).toEqual([]);
  });
});
