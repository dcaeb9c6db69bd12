// Setup remembers what a registry refused, with the day, instead of asking on every run (issue 16).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRefusals, recordAnswer, refusalOf, refusalsFile, writeRefusals } from "../../src/toolchain/refusals.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "amadegi-refusals-"));
  dirs.push(d);
  return d;
}

const COMMAND = "github.com/pulumi/pulumi-command/provider";
const HOST = "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3";

describe("a registry's refusals on record", () => {
  it("lives beside the tool cache, which AMADEGI_CACHE moves", () => {
    expect(refusalsFile({ AMADEGI_CACHE: "/c" })).toBe("/c/refusals.json");
  });

  it("records a refusal with its day and one-line reason, finds it by module and version, and survives a write and a read", async () => {
    const file = join(await temp(), "refusals.json");
    let record = recordAnswer([], COMMAND, "7f3eb6f", {
      on: new Date("2026-12-02T06:40:00Z"),
      reason: "  403 Forbidden\n\tThis module version is not available ",
    });
    record = recordAnswer(record, HOST, "v3.276.0", { on: new Date("2026-12-01T23:59:59Z"), reason: "403 Forbidden" });
    await writeRefusals(file, record);
    const read = readRefusals(file);
    expect(refusalOf(read, COMMAND, "7f3eb6f")).toEqual({
      module: COMMAND,
      version: "7f3eb6f",
      refusedOn: "2026-12-02",
      reason: "403 Forbidden This module version is not available",
    });
    expect(refusalOf(read, HOST, "v3.276.0")?.refusedOn).toBe("2026-12-01");
    // Another version of a refused module is a new question.
    expect(refusalOf(read, HOST, "v3.277.0")).toBeUndefined();
  });

  it("asked again: a new refusal replaces the old one; a module now served leaves the record", () => {
    const first = recordAnswer([], COMMAND, "v1", { on: new Date("2026-11-22T00:00:00Z"), reason: "403" });
    const again = recordAnswer(first, COMMAND, "v1", { on: new Date("2026-12-02T00:00:00Z"), reason: "403 again" });
    expect(again).toEqual([{ module: COMMAND, version: "v1", refusedOn: "2026-12-02", reason: "403 again" }]);
    expect(recordAnswer(again, COMMAND, "v1", undefined)).toEqual([]);
  });

  it("a missing, broken or misshapen file counts as no record (setup asks again), and bad entries are dropped", async () => {
    const dir = await temp();
    expect(readRefusals(join(dir, "none.json"))).toEqual([]);
    const broken = join(dir, "broken.json");
    await writeFile(broken, '{"version":1,"refusals":[');
    expect(readRefusals(broken)).toEqual([]);
    const odd = join(dir, "odd.json");
    await writeFile(
      odd,
      JSON.stringify({
        refusals: [
          { module: COMMAND, version: "v1", refusedOn: "yesterday", reason: "403" },
          { module: COMMAND, version: 1, refusedOn: "2026-12-02", reason: "403" },
          null,
          { module: HOST, version: "v3", refusedOn: "2026-12-02", reason: "403" },
        ],
      }),
    );
    expect(readRefusals(odd).map((r) => r.module)).toEqual([HOST]);
    await writeFile(odd, "null");
    expect(readRefusals(odd)).toEqual([]);
  });
});
