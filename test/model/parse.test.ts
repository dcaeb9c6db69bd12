// Stage 2, parse: syntax errors with their position; what the inventory does
// not use (anchors, aliases, tags, extra documents, deep nesting) is refused
// before any walk, so an alias bomb costs nothing.
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyFixture, FIXTURES, load, shape } from "./fixture.ts";

const Z = "inventory/districts/zz.yaml";

async function findings(name: string) {
  const root = await copyFixture();
  await copyFile(join(FIXTURES, "bad", name), join(root, Z));
  const result = await load(root);
  return { result, found: result.findings.map((f) => shape(root, f)) };
}

describe("parsing", () => {
  it.each([
    { file: "syntax.yaml", expect: [{ rule: "yaml.syntax", item: "-", file: Z, line: 4, col: 3 }] },
    { file: "deep.yaml", expect: [{ rule: "yaml.too-deep", item: "-", file: Z, line: 1, col: 42 }] },
    { file: "multi-document.yaml", expect: [{ rule: "yaml.multi-document", item: "-", file: Z, line: 4, col: 1 }] },
    { file: "tag.yaml", expect: [{ rule: "yaml.tag", item: "-", file: Z, line: 2, col: 7 }] },
  ])("$file", async ({ file, expect: expected }) => {
    const { found } = await findings(file);
    expect(found).toEqual(expected);
  });

  it("an alias bomb is refused quickly, its findings capped and counted", async () => {
    const started = performance.now();
    const { found, result } = await findings("alias-bomb.yaml");
    expect(performance.now() - started).toBeLessThan(2000);
    const aliases = found.filter((f) => f.rule === "yaml.alias");
    expect(aliases).toHaveLength(100);
    expect(aliases[0]).toEqual({ rule: "yaml.alias", item: "-", file: Z, line: 1, col: 5 });
    expect(aliases[1]).toEqual({ rule: "yaml.alias", item: "-", file: Z, line: 2, col: 5 });
    expect(aliases[2]).toEqual({ rule: "yaml.alias", item: "-", file: Z, line: 2, col: 10 });
    const truncated = result.findings.filter((f) => f.rule === "input.truncated");
    expect(truncated).toHaveLength(1);
    expect(truncated[0]?.message).toBe("11 more yaml.alias findings in this file were not listed");
  });
});
