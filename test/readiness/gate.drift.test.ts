// The gate reads the results' stack's latest drift report (.amadegi/drift/<stack>.json):
// no-unwaived-drift passes on a clean one, fails on drift, cannot judge without one or on
// a stale one; the run carries it for the report's drift section.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderServer } from "../../src/model/render/index.ts";
import type { ServerFacts } from "../../src/model/render/types.ts";
import { computeDrift, declaredServer, factsExpectation, writeLatestDrift } from "../../src/readiness/drift/index.ts";
import { readEvidence } from "../../src/readiness/evidence.ts";
import { gate } from "../../src/readiness/gate.ts";
import { edit, ELECTION, fixtureCopy, inventoryOf, resultsFor } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

async function judgeWithDrift(options: { handEdit?: boolean; ageHours?: number; write?: boolean }) {
  const root = await fixtureCopy();
  await edit(root, ELECTION, "certificates-valid, no-blind-spot]", "certificates-valid, no-blind-spot, no-unwaived-drift]");
  const inv = await inventoryOf(root, "2027-02-17");
  const results = await resultsFor(root, { now: NOW, stack: "rehearsal" });
  const declared = new Map(inv.servers.map((s) => [s.id, renderServer(inv, s.id, { root: "", environment: "rehearsal", address: s.address })]));
  const servers = Object.fromEntries(inv.servers.map((s) => [s.id, declaredServer(s.address, declared.get(s.id) ?? [])]));
  const facts: ServerFacts[] = inv.servers.map((s) => {
    const p = servers[s.id];
    const files = Object.fromEntries(factsExpectation(declared.get(s.id), p).files.map((path) => [path, p?.files[path] ?? null]));
    if (options.handEdit === true && s.id === "gw-a") files["/etc/amadegi/server.json"] = null;
    return { server: s.id, reachable: true, files, listening: (p?.services ?? []).flatMap((x) => x.listens), versions: {}, at: NOW.toISOString() };
  });
  const at = new Date(NOW.getTime() - (options.ageHours ?? 1) * 3_600_000).toISOString();
  const report = computeDrift({
    id: "d1",
    stack: "rehearsal",
    at,
    date: "2027-02-17",
    inventory: inv,
    inventoryDir: "inventory",
    declared,
    provisioned: { stack: "rehearsal", servers },
    provisionedFrom: "test",
    facts,
    evidence: await readEvidence(results),
  });
  const driftDir = join(root, ".amadegi", "drift");
  if (options.write !== false) await writeLatestDrift(driftDir, report);
  return gate({ inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7", driftDir });
}

describe("the gate and drift", () => {
  it("a clean drift report: no-unwaived-drift passes, ready; the run carries the report", async () => {
    const run = await judgeWithDrift({});
    expect(run.result.criteria.find((c) => c.id === "no-unwaived-drift")?.outcome).toBe("pass");
    expect(run.result.verdict).toBe("ready");
    expect(run.drift).toMatchObject({ found: true, ageHours: 1 });
  });

  it("a file changed by hand: not ready, the server named with its owner", async () => {
    const { result } = await judgeWithDrift({ handEdit: true });
    const c = result.criteria.find((x) => x.id === "no-unwaived-drift");
    expect(c?.outcome).toBe("fail");
    expect(c?.offenders.map((o) => [o.id, o.owner])).toEqual([["gw-a", "it-committee"]]);
    expect(result.exitCode).toBe(1);
  });

  it.each([
    [{ write: false }, /no drift report of stack rehearsal/],
    [{ ageHours: 30 }, /is 30\.0 h old, older than milestone T-7's maximum age of 24 h/],
  ])("cannot judge without a fresh report (%o)", async (options, reason) => {
    const { result } = await judgeWithDrift(options);
    expect(result.exitCode).toBe(2);
    expect(result.reasons.join("\n")).toMatch(reason);
  });
});
