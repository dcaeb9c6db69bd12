// The rule catalogue and ADR 0002's severity table must say the same thing.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RULES } from "../../src/model/rules.ts";

describe("rule catalogue", () => {
  it("matches the severity table of ADR 0002, row for row", async () => {
    const adr = await readFile(join(import.meta.dirname, "../../docs/adr/0002-model-contract.md"), "utf8");
    const rows = [...adr.matchAll(/^\| `([a-z.-]+)` \| (error|warning) \| (yes|no) \|/gm)].map((m) => [m[1], m[2], m[3] === "yes"]);
    const catalogue = Object.entries(RULES).map(([id, spec]) => [id, spec.severity, spec.waivable]);
    expect(rows).toEqual(catalogue);
  });

  it("names every rule area.name", () => {
    for (const id of Object.keys(RULES)) expect(id).toMatch(/^[a-z]+\.[a-z-]+$/);
  });
});
