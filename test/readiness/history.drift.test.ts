// Drift reports in history: counts per kind, items, what appeared and what was
// resolved since the stack's previous report, all or nothing per report, in a
// real database file reopened between runs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyCounts } from "../../src/readiness/drift/index.ts";
import { type DriftItemRecord, History } from "../../src/readiness/history.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-history-drift-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const item = (key: string, waivedBy?: string): DriftItemRecord => {
  const [kind = "", object = ""] = key.split(" ");
  return { key, kind: kind as DriftItemRecord["kind"], object, owner: "it-committee", ...(waivedBy === undefined ? {} : { waivedBy }) };
};
const run = (id: string, stack: string, at: string, counts: Partial<ReturnType<typeof emptyCounts>> = {}) => ({
  id,
  stack,
  at,
  verdict: "drift",
  checked: 40,
  counts: { ...emptyCounts(), ...counts },
  waived: 0,
});

describe("History: drift", () => {
  it("keeps each report's counts, newest first, per stack", () => {
    const file = join(dir, "a.sqlite");
    let h = new History(file);
    h.recordDrift(run("d1", "rehearsal", "2027-02-16T06:00:00Z", { "changed-on-server": 2 }), [
      item("changed-on-server gw-a /etc/x"),
      item("changed-on-server gw-a /etc/y"),
    ]);
    h.recordDrift(run("o1", "other", "2027-02-17T06:00:00Z", { unreachable: 1 }), [item("unreachable dns-a")]);
    h.close();
    h = new History(file);
    h.recordDrift({ ...run("d2", "rehearsal", "2027-02-17T06:00:00Z", { "not-provisioned": 1 }), verdict: "drift", waived: 1 }, [
      item("not-provisioned ntp-b"),
      item("changed-on-server gw-a /etc/x", "W-1"),
    ]);
    const runs = h.driftRuns("rehearsal");
    expect(runs.map((r) => r.id)).toEqual(["d2", "d1"]);
    expect(runs[0]).toEqual({
      id: "d2",
      stack: "rehearsal",
      at: "2027-02-17T06:00:00Z",
      verdict: "drift",
      checked: 40,
      counts: { ...emptyCounts(), "not-provisioned": 1 },
      waived: 1,
    });
    expect(runs[1]?.counts["changed-on-server"]).toBe(2);
    expect(h.integrity()).toBe("ok");
    h.close();
  });

  it("says what appeared and what was resolved since the stack's previous report (another stack's never counts)", () => {
    const h = new History(":memory:");
    h.recordDrift(run("d1", "rehearsal", "2027-02-16T06:00:00Z"), [item("changed-on-server gw-a /etc/x"), item("never-observed R-1-M")]);
    h.recordDrift(run("o1", "other", "2027-02-16T12:00:00Z"), [item("unreachable dns-a")]);
    h.recordDrift(run("d2", "rehearsal", "2027-02-17T06:00:00Z"), [item("changed-on-server gw-a /etc/x", "W-1"), item("not-provisioned ntp-b")]);
    expect(h.driftChangesSince("d2")).toEqual({
      previous: { id: "d1", at: "2027-02-16T06:00:00Z" },
      appeared: [item("not-provisioned ntp-b")],
      resolved: [item("never-observed R-1-M")],
    });
    // The first report of a stack has nothing to compare with.
    expect(h.driftChangesSince("d1")).toEqual({ appeared: [], resolved: [] });
    expect(h.driftChangesSince("nope")).toEqual({ appeared: [], resolved: [] });
    h.close();
  });

  it("stores a report all or nothing", () => {
    const h = new History(":memory:");
    h.recordDrift(run("d1", "rehearsal", "2027-02-16T06:00:00Z"), [item("unreachable dns-a")]);
    // The same id again: refused, and none of its items stay behind.
    expect(() => h.recordDrift(run("d1", "rehearsal", "2027-02-18T06:00:00Z"), [item("not-provisioned gw-z")])).toThrow();
    // An item that cannot be stored after the report's row was: the report goes too.
    expect(() =>
      h.recordDrift(run("d2", "rehearsal", "2027-02-18T06:00:00Z"), [
        item("not-provisioned gw-y"),
        { ...item("unreachable gw-x"), owner: null as unknown as string },
      ]),
    ).toThrow();
    h.recordDrift(run("d3", "rehearsal", "2027-02-19T06:00:00Z"), []);
    expect(h.driftRuns("rehearsal").map((r) => r.id)).toEqual(["d3", "d1"]);
    expect(h.driftChangesSince("d3").resolved.map((i) => i.key)).toEqual(["unreachable dns-a"]);
    h.close();
  });
});
