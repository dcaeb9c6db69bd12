// Issue 14, item 2: ids are data. `constructor`, `toString` and the like are valid ids; a table
// keyed by them must hold only what was put there — here, and through validate, gate, report and
// a provisioned state, with the readiness fixture's operators renamed so.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { dataRecord, ownEntry } from "../../src/lib/records.ts";
import { loadCatalog } from "../../src/probe/catalog/load.ts";
import { parseProvisioned } from "../../src/readiness/drift/index.ts";
import { fixtureCopy, resultsFor } from "../readiness/helpers.ts";

const PROTOTYPE_NAMES = ["constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString"];

function capture(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      cwd,
      env: { ...process.env, AMADEGI_DEBUG: undefined, AMADEGI_STATE_DIR: join(cwd, ".amadegi") },
    },
    out,
    err,
  };
}

/** The readiness fixture with its operators tci and mci renamed after Object.prototype's members. */
async function renamed(): Promise<string> {
  const root = await fixtureCopy();
  for (const file of ["inventory/operators.yaml", "inventory/districts/rey.yaml", "inventory/servers.yaml", "inventory/waivers.yaml"]) {
    const path = join(root, file);
    await writeFile(path, (await readFile(path, "utf8")).replace(/\btci\b/g, "constructor").replace(/\bmci\b/g, "toString"));
  }
  return root;
}

describe("tables keyed by data", () => {
  it.each(PROTOTYPE_NAMES)("a data record has no %s but the one put there", (name) => {
    const r = dataRecord<number>();
    expect(r[name]).toBeUndefined();
    r[name] = (r[name] ?? 0) + 1;
    expect(r[name]).toBe(1);
    expect(JSON.parse(JSON.stringify(r))).toEqual({ [name]: 1 });
    expect(ownEntry({ a: 1 }, name)).toBeUndefined();
  });

  it("gate counts offenders by owner as numbers, and report writes its files, for owners called constructor and toString", async () => {
    const root = await renamed();
    const results = await resultsFor(root, {
      now: new Date(),
      edit: (r) => (r.key.startsWith("link-icmp/") ? { ...r, status: "down" as const, detail: "x" } : r),
    });
    const gate = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--results", results, "--no-history", "--json"], gate.io)).toBe(1);
    const verdict = JSON.parse(gate.out.join("\n")) as { criteria: { id: string; byOwner: Record<string, unknown> }[] };
    const live = verdict.criteria.find((c) => c.id === "links-live");
    expect(live?.byOwner).toEqual({ constructor: 1, toString: 2, municipality: 1, education: 1, irancell: 1 });
    const report = capture(root);
    expect(
      await main(["report", "--milestone", "T-7", "--date", "2027-02-17", "--results", results, "--no-history", "--out", join(root, "report")], report.io),
    ).toBe(1);
    expect(report.err.join("\n")).not.toMatch(/native code|TypeError/);
    expect(await readFile(join(root, "report", "summary.md"), "utf8")).toContain("constructor");
  });

  it("a provisioned state names only its own servers: one called constructor is not provisioned because the name is a prototype member", () => {
    const parsed = parseProvisioned(
      JSON.parse(
        '{"stack":"s","servers":{"__proto__":{"address":"10.0.0.1","roles":[],"files":{},"services":[],"stationsHash":"' + "a".repeat(64) + '","stations":0}}}',
      ),
      "s",
    );
    const servers = parsed.state?.servers ?? {};
    expect(Object.keys(servers)).toEqual(["__proto__"]);
    expect(servers.constructor).toBeUndefined();
    expect(Object.getPrototypeOf(servers)).toBeNull();
  });

  it("a check parameter called constructor is an unknown parameter, not a known one", async () => {
    const root = await fixtureCopy();
    await writeFile(
      join(root, "checks.yaml"),
      ["checks:", "  - id: c", "    name: c", "    probe: icmp", "    select: { objects: servers }", "    params: { constructor: 3, count: 2 }", ""].join("\n"),
    );
    const inventory = (await import("../readiness/helpers.ts")).inventoryOf(root);
    const result = loadCatalog(root, { inventory: await inventory });
    const messages = result.findings.map((f) => f.message);
    expect(messages.some((m) => m.includes('unknown icmp parameter "constructor"'))).toBe(true);
  });
});
