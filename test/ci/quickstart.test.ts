import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

const read = (p: string) => readFile(join(repoRoot, p), "utf8");

async function quickStart(): Promise<string[]> {
  const readme = await read("README.md");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Quick start"));
  const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1] ?? "";
  return block.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
}

describe("the README's quick start and CI", () => {
  it("has exactly two command lines: the main job, then the test suite", async () => {
    const lines = await quickStart();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^bash scripts\/setup && npx amadegi /);
    expect(lines[1]).toMatch(/^bash scripts\/setup && npm test$/);
  });

  it(".ci/run runs the README's test command itself, not a copy of its steps", async () => {
    const [, testCommand] = await quickStart();
    const run = (await read(".ci/run")).split("\n");
    expect(run).toContain(testCommand);
  });

  it("the workflow runs .ci/run with read-only contents and actions pinned to commits", async () => {
    const workflow = await read(".github/workflows/ci.yml");
    expect(workflow).toMatch(/^permissions:\n {2}contents: read$/m);
    expect(workflow).toMatch(/run: .*bash \.ci\/run$/m);
    for (const uses of workflow.matchAll(/uses: (\S+)/g)) expect(uses[1]).toMatch(/@[0-9a-f]{40}$/);
  });
});
