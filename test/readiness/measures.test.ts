// The gate's measures cache (ADR 0016): a gate judged again on the same inventory and the same
// results' bytes takes the criteria's measures from the cache, reading neither the stations nor the
// results' observations, and gives the fresh verdict; other bytes, another milestone or day, a
// damaged file, or a criterion that reads the drift report (its age moves with the clock) is a miss.
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gate, gateVerdict } from "../../src/readiness/gate.ts";
import { edit, ELECTION, fixtureCopy, resultsFor, tempDir } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

const down = (key: string) => (r: { key: string }) => (r.key === key ? { ...r, status: "down" as const, detail: "no answer", failure: "timeout" as const } : r);

async function kept(cache: string): Promise<string[]> {
  return (await readdir(cache)).filter((n) => n.startsWith("measures-")).map((n) => join(cache, n));
}

/** Rewrite the one kept measures file. */
async function rewrite(cache: string, change: (file: { entries: { milestone: string; measures: [string, { good?: number }][] }[] }) => void): Promise<void> {
  const [file] = await kept(cache);
  if (file === undefined) throw new Error("no measures kept");
  const parsed = JSON.parse(await readFile(file, "utf8")) as Parameters<typeof change>[0];
  change(parsed);
  await writeFile(file, JSON.stringify(parsed));
}

describe("measures cache", () => {
  it("answers a gate judged again on the same inventory and results without reading the stations, with the fresh verdict", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const results = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const options = { inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7" };
    const fresh = (await gate(options)).result;
    const first = await gateVerdict({ ...options, cacheDir: cache });
    expect(first).toEqual(fresh);
    expect(first.criteria.find((c) => c.id === "links-live")?.outcome).toBe("fail");
    expect(await kept(cache)).toHaveLength(1);
    // The snapshot's body (the stations) and the results' digest gone: a kept answer needs neither, and reads neither back.
    for (const name of await readdir(cache))
      if (name.startsWith("evidence-") || (name.startsWith("inventory-") && !name.endsWith(".head.json"))) await rm(join(cache, name));
    const second = await gateVerdict({ ...options, cacheDir: cache });
    expect(second).toEqual(fresh);
    expect((await readdir(cache)).filter((n) => n.startsWith("evidence-") || (n.startsWith("inventory-") && !n.endsWith(".head.json")))).toEqual([]);
    // Proof the cache answered: a measure edited by hand (same key) is what the gate judges on.
    await rewrite(cache, (f) => {
      for (const [id, m] of f.entries[0]?.measures ?? []) if (id === "links-live" && m.good !== undefined) m.good = 1000;
    });
    expect((await gateVerdict({ ...options, cacheDir: cache })).criteria.find((c) => c.id === "links-live")?.measured).not.toBe(
      fresh.criteria.find((c) => c.id === "links-live")?.measured,
    );
  });

  it("misses on other results' bytes and on another milestone, and keeps each milestone's entry", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const inventory = join(root, "inventory");
    const results = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const before = await gateVerdict({ inventory, results, now: NOW, milestone: "T-7", cacheDir: cache });
    expect(before.criteria.find((c) => c.id === "links-live")?.outcome).toBe("fail");
    // The same file name, other bytes: the link answered this time.
    await resultsFor(root, { now: NOW });
    const after = await gateVerdict({ inventory, results, now: NOW, milestone: "T-7", cacheDir: cache });
    expect(after).toEqual((await gate({ inventory, results, now: NOW, milestone: "T-7" })).result);
    expect(after.criteria.find((c) => c.id === "links-live")?.outcome).toBe("pass");
    expect(await kept(cache)).toHaveLength(2);
    const t1 = await gateVerdict({ inventory, results, now: NOW, milestone: "T-1", cacheDir: cache });
    expect(t1).toEqual((await gate({ inventory, results, now: NOW, milestone: "T-1" })).result);
    const files = await Promise.all((await kept(cache)).map(async (f) => JSON.parse(await readFile(f, "utf8")) as { entries: { milestone: string }[] }));
    expect(files.map((f) => f.entries.map((e) => e.milestone).sort())).toContainEqual(["T-1", "T-7"]);
  });

  it.each([
    ["torn", "{ torn"],
    ["an offender of the wrong shape", "offender"],
    ["another layout", "version"],
  ])("a kept file that is %s is a miss: the gate measures again", async (_what, damage) => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const results = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const options = { inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7", cacheDir: cache };
    const first = await gateVerdict(options);
    const [file] = await kept(cache);
    if (file === undefined) throw new Error("no measures kept");
    const parsed = JSON.parse(await readFile(file, "utf8")) as {
      version: number;
      entries: { measures: [string, { offenders?: unknown[]; good?: number }][] }[];
    };
    for (const [, m] of parsed.entries[0]?.measures ?? []) {
      if (m.offenders !== undefined && m.offenders.length > 0) {
        m.good = 1000; // what a use of the damaged file would show
        if (damage === "offender") m.offenders[0] = { id: 5 };
      }
    }
    if (damage === "version") parsed.version = 99;
    await writeFile(file, damage === "{ torn" ? damage : JSON.stringify(parsed));
    expect(await gateVerdict(options)).toEqual(first);
  });

  it("never answers for a criterion that reads the drift report: such a milestone is measured every time", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    await edit(root, ELECTION, "certificates-valid, no-blind-spot]", "certificates-valid, no-blind-spot, no-unwaived-drift]");
    const results = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const options = { inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7", cacheDir: cache };
    const first = await gateVerdict(options);
    expect(first.reasons.join("\n")).toMatch(/no-unwaived-drift: no drift report was read/);
    await rewrite(cache, (f) => {
      const entry = f.entries[0];
      expect(entry?.measures.map(([id]) => id)).not.toContain("no-unwaived-drift");
      for (const [, m] of entry?.measures ?? []) if (m.good !== undefined) m.good = 1000;
    });
    expect(await gateVerdict(options)).toEqual(first);
  });
});
