import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeResult, Status } from "../../src/probe/types.ts";
import { History } from "../../src/readiness/history.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-history-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function result(key: string, status: Status): ProbeResult {
  return {
    key,
    check: "icmp-links",
    kind: "icmp",
    address: "127.0.0.1",
    from: "test",
    status,
    attempts: 1,
    timings: { total: 1 },
    values: {},
    at: "2027-02-20T06:00:00Z",
  };
}
const campaign = (id: string, finished: string, valid = true) => ({ id, stack: "rehearsal", started: finished, finished, valid });

describe("History", () => {
  it("says what failed and what recovered since the last valid campaign", () => {
    const h = new History(":memory:");
    h.recordCampaign(campaign("c1", "2027-02-18T06:00:00Z"), [result("a", "up"), result("b", "down"), result("c", "up"), result("d", "degraded")]);
    // An invalid campaign is never the baseline: its failures may be the engine's own.
    h.recordCampaign(campaign("c2", "2027-02-19T06:00:00Z", false), [result("a", "down"), result("b", "down"), result("c", "down"), result("d", "down")]);
    h.recordCampaign(campaign("c3", "2027-02-20T06:00:00Z"), [result("a", "down"), result("b", "up"), result("c", "up"), result("d", "unreachable")]);
    expect(h.changesSince("c3")).toEqual({
      previous: "c1",
      newlyFailing: [
        { key: "a", status: "down", was: "up" },
        { key: "d", status: "unreachable", was: "degraded" },
      ],
      recovered: [{ key: "b", status: "up", was: "down" }],
    });
    expect(h.changesSince("c1")).toEqual({ newlyFailing: [], recovered: [] });
    expect(h.campaigns("rehearsal").map((c) => c.id)).toEqual(["c3", "c2", "c1"]);
    h.close();
  });

  it("stores a campaign all or nothing", () => {
    const h = new History(":memory:");
    function* broken(): Generator<ProbeResult> {
      yield result("a", "up");
      throw new Error("the results file was cut");
    }
    expect(() => h.recordCampaign(campaign("c1", "2027-02-18T06:00:00Z"), broken())).toThrow("the results file was cut");
    expect(h.campaigns("rehearsal")).toEqual([]);
    h.close();
  });

  it("keeps each milestone's verdicts as a trend", () => {
    const h = new History(":memory:");
    h.recordVerdict("T-7", "2027-02-19T06:00:00Z", "not-ready", "c1", 0.91);
    h.recordVerdict("T-7", "2027-02-20T06:00:00Z", "ready", "c2", 0.99);
    h.recordVerdict("T-1", "2027-02-20T06:00:00Z", "not-ready");
    expect(h.trend("T-7")).toEqual([
      { at: "2027-02-19T06:00:00Z", verdict: "not-ready", score: 0.91 },
      { at: "2027-02-20T06:00:00Z", verdict: "ready", score: 0.99 },
    ]);
    h.close();
  });

  it("keeps what each criterion measured at each run, per criterion of the milestone; a run recorded again replaces its figures", () => {
    const h = new History(":memory:");
    const live = (withWaivers: number) =>
      ({ id: "links-live", outcome: withWaivers >= 95 ? "pass" : "fail", measured: withWaivers, withWaivers, threshold: 95 }) as const;
    h.recordVerdict("T-7", "2027-02-19T06:00:00Z", "not-ready", "c1", 90, [live(90), { id: "dns-up", outcome: "cannot-judge", threshold: 100 }]);
    h.recordVerdict("T-7", "2027-02-20T06:00:00Z", "ready", "c2", 99, [
      live(97),
      { id: "dns-up", outcome: "pass", measured: 100, withWaivers: 100, threshold: 100 },
    ]);
    h.recordVerdict("T-1", "2027-02-20T06:00:00Z", "ready", "c2", 100, [live(100)]);
    // In the order asked; a criterion never recorded for the milestone has no points.
    expect(h.criteriaTrend("T-7", ["dns-up", "links-live", "gateways-up"])).toEqual([
      {
        id: "dns-up",
        points: [
          { at: "2027-02-19T06:00:00Z", outcome: "cannot-judge", threshold: 100 },
          { at: "2027-02-20T06:00:00Z", outcome: "pass", measured: 100, withWaivers: 100, threshold: 100 },
        ],
      },
      {
        id: "links-live",
        points: [
          { at: "2027-02-19T06:00:00Z", outcome: "fail", measured: 90, withWaivers: 90, threshold: 95 },
          { at: "2027-02-20T06:00:00Z", outcome: "pass", measured: 97, withWaivers: 97, threshold: 95 },
        ],
      },
      { id: "gateways-up", points: [] },
    ]);
    h.recordVerdict("T-7", "2027-02-20T06:00:00Z", "not-ready", "c2", 80, [live(80)]);
    expect(h.criteriaTrend("T-7", ["links-live", "dns-up"]).map((t) => t.points.map((p) => p.withWaivers))).toEqual([[90, 80], [undefined]]);
    expect(h.trend("T-7").map((p) => p.score)).toEqual([90, 80]);
    h.close();
  });

  it("reads a history written before figures were kept, and leaves out rows that are not what amadegi writes", () => {
    const path = join(dir, "old.sqlite");
    // The verdict table as amadegi wrote it before issue 19, with runs a damaged or hand-edited file could hold.
    const old = new DatabaseSync(path);
    old.exec("CREATE TABLE verdict (milestone TEXT NOT NULL, campaign TEXT, at TEXT NOT NULL, verdict TEXT NOT NULL, score REAL, PRIMARY KEY (milestone, at))");
    const insert = old.prepare("INSERT INTO verdict (milestone, campaign, at, verdict, score) VALUES (?, ?, ?, ?, ?)");
    insert.run("T-7", "c1", "2027-02-20T06:00:00Z", "ready", 99.5);
    insert.run("T-7", "c0", "2027-02-18T06:00:00.123Z", "not-ready", null);
    insert.run("T-7", null, "soon", "ready", 50); // a time that is not a time
    insert.run("T-7", null, "2027-02-19T06:00:00Z", "<script>alert(1)</script>", 50); // a verdict amadegi never writes
    insert.run("T-7", null, "2027-02-19T07:00:00Z", "ready", "lots"); // a score that is not a share: the run stays, without it
    insert.run("T-7", null, "2027-02-19T08:00:00Z", "ready", 250);
    old.close();

    const h = new History(path);
    expect(h.trend("T-7")).toEqual([
      { at: "2027-02-18T06:00:00.123Z", verdict: "not-ready" },
      { at: "2027-02-19T07:00:00Z", verdict: "ready" },
      { at: "2027-02-19T08:00:00Z", verdict: "ready" },
      { at: "2027-02-20T06:00:00Z", verdict: "ready", score: 99.5 },
    ]);
    expect(h.criteriaTrend("T-7", ["links-live"])).toEqual([{ id: "links-live", points: [] }]);
    // From now on the figures are kept, beside the old runs.
    h.recordVerdict("T-7", "2027-02-21T06:00:00Z", "ready", "c2", 100, [{ id: "links-live", outcome: "pass", measured: 100, withWaivers: 100, threshold: 95 }]);
    expect(h.trend("T-7")).toHaveLength(5);
    expect(h.criteriaTrend("T-7", ["links-live"])[0]?.points).toHaveLength(1);
    h.close();

    const damaged = new DatabaseSync(path);
    const figure = damaged.prepare(
      "INSERT INTO verdict_criterion (milestone, at, criterion, outcome, measured, with_waivers, threshold) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    figure.run("T-7", "yesterday", "links-live", "pass", 100, 100, 95);
    figure.run("T-7", "2027-02-19T06:00:00Z", "links-live", "maybe", 100, 100, 95);
    figure.run("T-7", "2027-02-19T07:00:00Z", "links-live", "fail", -5, "x", 95);
    damaged.close();
    const again = new History(path);
    expect(again.criteriaTrend("T-7", ["links-live"])[0]?.points).toEqual([
      { at: "2027-02-19T07:00:00Z", outcome: "fail", threshold: 95 },
      { at: "2027-02-21T06:00:00Z", outcome: "pass", measured: 100, withWaivers: 100, threshold: 95 },
    ]);
    again.close();
  });
});

/** A child process that records campaigns into the database (a second run of amadegi). */
function writer(db: string, script: string): ReturnType<typeof spawn> {
  const historyModule = JSON.stringify(join(repoRoot, "src/readiness/history.ts"));
  const code = `import { History } from ${historyModule};\nconst h = new History(${JSON.stringify(db)});\n${script}`;
  return spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"] });
}

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

describe("History under real processes", () => {
  it("loses only the run that was killed mid-write", async () => {
    const db = join(dir, "killed.sqlite");
    const h = new History(db);
    h.recordCampaign(campaign("before", "2027-02-18T06:00:00Z"), [result("a", "up")]);
    const child = writer(
      db,
      `function* slow() { for (let i = 0; ; i++) { if (i === 1000) process.stdout.write("writing\\n"); ` +
        `if (i > 1000) { const t = Date.now(); while (Date.now() - t < 50); } yield { key: "k" + i, status: "up" }; } }
       h.recordCampaign({ id: "killed", stack: "rehearsal", started: "x", finished: "2027-02-19T06:00:00Z", valid: true }, slow());`,
    );
    await new Promise<void>((resolve) => child.stdout?.on("data", () => resolve()));
    child.kill("SIGKILL");
    await exited(child);
    const after = new History(db);
    expect(after.integrity()).toBe("ok");
    expect(after.campaigns("rehearsal").map((c) => c.id)).toEqual(["before"]);
    after.close();
    h.close();
  }, 30_000);

  it("two runs writing at once both land, and the file stays sound", async () => {
    const db = join(dir, "concurrent.sqlite");
    new History(db).close();
    const script = (who: string) =>
      `for (let c = 0; c < 20; c++) h.recordCampaign({ id: "${who}" + c, stack: "rehearsal", started: "x", ` +
      `finished: "2027-02-19T06:00:" + String(c).padStart(2, "0") + "Z", valid: true }, ` +
      `Array.from({ length: 500 }, (_, i) => ({ key: "k" + i, status: "up" })));`;
    const codes = await Promise.all([exited(writer(db, script("a"))), exited(writer(db, script("b")))]);
    expect(codes).toEqual([0, 0]);
    const h = new History(db);
    expect(h.integrity()).toBe("ok");
    expect(h.campaigns("rehearsal")).toHaveLength(40);
    h.close();
  }, 60_000);
});
