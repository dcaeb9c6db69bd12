// The report's drift section: present (counts per kind, waived apart, the
// unwaived items in the searchable tables, Persian first) when the gate's run
// carries a drift report, absent otherwise; summary.md and results.json alike.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProvisionedState, ServerFacts } from "../../../src/model/render/types.ts";
import { renderServer } from "../../../src/model/render/index.ts";
import { computeDrift, declaredServer, factsExpectation, type LatestDrift } from "../../../src/readiness/drift/index.ts";
import { readEvidence } from "../../../src/readiness/evidence.ts";
import { gate } from "../../../src/readiness/gate.ts";
import { writeReport } from "../../../src/readiness/report/index.ts";
import { fixtureCopy, inventoryOf, resultsFor } from "../helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

async function setup() {
  const root = await fixtureCopy();
  const inv = await inventoryOf(root, "2027-02-17");
  const results = await resultsFor(root, { now: NOW, stack: "rehearsal", edit: (r) => (r.link === "R-1-M" ? undefined : r) });
  const declared = new Map(inv.servers.map((s) => [s.id, renderServer(inv, s.id, { root: "", environment: "rehearsal", address: s.address })]));
  const provisioned: ProvisionedState = {
    stack: "rehearsal",
    servers: Object.fromEntries(inv.servers.map((s) => [s.id, declaredServer(s.address, declared.get(s.id) ?? [])])),
  };
  const facts: ServerFacts[] = inv.servers.map((s) => {
    const p = provisioned.servers[s.id];
    const files = Object.fromEntries(factsExpectation(declared.get(s.id), p).files.map((path) => [path, p?.files[path] ?? null]));
    // gw-a's nginx.conf was edited by hand.
    if (s.id === "gw-a") files["/etc/amadegi/nginx/nginx.conf"] = "f".repeat(64);
    return { server: s.id, reachable: true, files, listening: (p?.services ?? []).flatMap((x) => x.listens), versions: {}, at: NOW.toISOString() };
  });
  const report = computeDrift({
    id: "drift-r1",
    stack: "rehearsal",
    at: NOW.toISOString(),
    date: "2027-02-17",
    inventory: inv,
    inventoryDir: "inventory",
    declared,
    provisioned,
    provisionedFrom: "test",
    facts,
    evidence: await readEvidence(results),
  });
  const drift: LatestDrift = { found: true, file: ".amadegi/drift/rehearsal.json", report, ageHours: 2 };
  const run = await gate({ inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7" });
  return { root, run, drift };
}

describe("the report's drift section", () => {
  it("shows counts per kind and the unwaived items, in Persian, when a drift report exists", async () => {
    const { root, run, drift } = await setup();
    const out = join(root, "with");
    await writeReport({ ...run, drift }, out, "fa");
    const html = await readFile(join(out, "report.html"), "utf8");
    expect(html).toContain('<h2 id="drift">انحراف: اعلام‌شده، پیاده‌شده، مشاهده‌شده</h2>');
    const changedCells = /<td class="n">۱<\/td><td class="n">۰<\/td><\/tr>/.source;
    const changedRow = new RegExp(/<tr><td>تغییرکرده روی سرور <bdi dir="ltr">changed-on-server<\/bdi><\/td>/.source + changedCells);
    expect(html).toMatch(changedRow);
    expect(html).toMatch(/<tr><td>اعلام‌شده، هرگز مشاهده‌نشده <bdi dir="ltr">never-observed<\/bdi><\/td><td class="n">۱<\/td>/);
    // The items join the searchable offender tables.
    expect(html).toMatch(
      new RegExp(
        /<table class="offenders" id="drift-items">.*<bdi dir="ltr">gw-a \/etc\/amadegi\/nginx\/nginx\.conf<\/bdi>.*/.source +
          /<bdi dir="ltr">R-1-M<\/bdi><\/td><td><bdi dir="ltr">mci<\/bdi>/.source,
        "s",
      ),
    );
    const md = await readFile(join(out, "summary.md"), "utf8");
    expect(md).toContain("### Drift (drift, report `drift-r1`, 2.0 h old)");
    expect(md).toContain("| changed on the server | 1 | 0 |");
    expect(md).toMatch(
      /\| `gw-a \/etc\/amadegi\/nginx\/nginx\.conf` \| it-committee \| changed-on-server \| \/etc\/amadegi\/nginx\/nginx\.conf changed on the server/,
    );
    const json = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { drift?: { id: string; counts: Record<string, number> } };
    expect(json.drift?.id).toBe("drift-r1");
    expect(json.drift?.counts["never-observed"]).toBe(1);
  }, 60_000);

  it("is absent when there is no drift report", async () => {
    const { root, run } = await setup();
    const out = join(root, "without");
    await writeReport({ ...run, drift: { found: false, file: "x", reason: "no drift report" } }, out, "en");
    expect(await readFile(join(out, "report.html"), "utf8")).not.toContain('id="drift"');
    expect(await readFile(join(out, "summary.md"), "utf8")).not.toContain("### Drift");
    expect((JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { drift?: unknown }).drift).toBeUndefined();
  }, 60_000);
});
