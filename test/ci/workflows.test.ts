// The workflows pass actionlint (built by setup from the Go module proxy).
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { engineEnv } from "../../src/toolchain/env.ts";
import { run, which } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

describe("GitHub workflows", () => {
  it("pass actionlint", async () => {
    const actionlint = await which("actionlint", engineEnv().PATH);
    expect(actionlint, "actionlint is built by scripts/setup").toBeDefined();
    const dir = join(repoRoot, ".github", "workflows");
    const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    const result = await run(actionlint ?? "", ["-no-color", ...files], { cwd: repoRoot });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("actionlint reports a broken workflow (so a pass means something)", async () => {
    const actionlint = (await which("actionlint", engineEnv().PATH)) ?? "";
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n";
    const result = await run(actionlint, ["-no-color", "-"], { cwd: repoRoot, input: broken });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/property "nope" is not defined/);
  });
});
