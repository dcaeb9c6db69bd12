// The line CI reads, from vitest's JSON report: a file that failed outside its
// tests (a beforeAll that threw, a file that did not load) must never read as
// "0 failed".
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

const run = promisify(execFile);
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-summary-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function summary(report: object): Promise<{ code: number; lines: string[] }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(report));
  try {
    const { stdout } = await run(process.execPath, [join(repoRoot, "scripts", "ci-summary.js"), file]);
    return { code: 0, lines: stdout.trim().split("\n") };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    return { code: e.code, lines: e.stdout.trim().split("\n") };
  }
}

const test = (fullName: string, status: string) => ({ fullName, status });

describe("scripts/ci-summary.js", () => {
  it("counts passed, failed and skipped tests, naming each skipped one", async () => {
    const { code, lines } = await summary({
      numPassedTests: 2,
      numFailedTests: 1,
      numPendingTests: 1,
      numTodoTests: 0,
      testResults: [
        {
          name: "a.test.ts",
          status: "failed",
          assertionResults: [test("a one", "passed"), test("a two", "failed"), test("a three (skipped: why)", "skipped")],
        },
        { name: "b.test.ts", status: "passed", assertionResults: [test("b one", "passed")] },
      ],
    });
    expect(code).toBe(0);
    expect(lines).toEqual(["skipped: a three (skipped: why)", "2 passed, 1 failed, 1 skipped"]);
  });

  it("a file whose hook failed: its tests count as failed, not skipped", async () => {
    const { lines } = await summary({
      numPassedTests: 1,
      numFailedTests: 0,
      numPendingTests: 3,
      numTodoTests: 0,
      testResults: [
        { name: "drill.test.ts", status: "failed", message: "", assertionResults: [test("d1", "skipped"), test("d2", "skipped"), test("d3", "skipped")] },
        { name: "ok.test.ts", status: "passed", assertionResults: [test("ok", "passed")] },
      ],
    });
    expect(lines.at(-1)).toBe("1 passed, 3 failed, 0 skipped");
    expect(lines).toContain("failed: drill.test.ts: the file failed outside its tests (a hook, or loading)");
  });

  it("a file that did not load counts once; no report at all is a failure", async () => {
    const { lines } = await summary({
      numPassedTests: 1,
      numFailedTests: 0,
      numPendingTests: 0,
      numTodoTests: 0,
      testResults: [
        { name: "x.test.ts", status: "failed", message: "SyntaxError: nope", assertionResults: [] },
        { name: "ok.test.ts", status: "passed", assertionResults: [test("ok", "passed")] },
      ],
    });
    expect(lines).toEqual(["failed: x.test.ts: SyntaxError: nope", "1 passed, 1 failed, 0 skipped"]);
    const missing = await run(process.execPath, [join(repoRoot, "scripts", "ci-summary.js"), join(dir, "none.json")]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect("code" in missing ? missing.code : 0).toBe(1);
    expect(missing.stdout.trim()).toBe("0 passed, 1 failed");
  });
});
