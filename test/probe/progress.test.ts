// A campaign's progress (issue 19): a twenty-minute `check` in a CI log says how far it got every
// 30 s and as each lane starts its targets, in plain lines; on a terminal the line is redrawn as
// before. The timers and the clock are vitest's fakes, except in the campaign run at the end, whose
// lanes' lines alone are asserted.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runCampaign } from "../../src/probe/campaign/index.ts";
import { campaignLine, CampaignProgress, startedText, type CampaignState } from "../../src/probe/progress.ts";
import { emptyCounts } from "../../src/probe/summary.ts";
import type { BatchProbe, Observation, Probe, Target } from "../../src/probe/types.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

function target(n: number, extra: Partial<Target> = {}): Target {
  return { key: `t/${n}`, check: "t", kind: "tcp", address: `127.0.0.${n + 1}`, port: 1, params: {}, ...extra };
}

/** What was written, the way a CI log or a pipe takes it. */
function pipe(): { stream: { isTTY: boolean; write: (t: string) => boolean }; written: string[] } {
  const written: string[] = [];
  return { stream: { isTTY: false, write: (t) => written.push(t) > 0 }, written };
}

describe("the campaign's line", () => {
  it("counts per status, the share done, rate, ETA and the time to the deadline", () => {
    const state: CampaignState = { counts: { ...emptyCounts(), up: 1200, degraded: 4, down: 30 }, done: 1234, total: 5000, deadlineAt: 60_000 };
    expect(campaignLine(state, 3_000, 9_000)).toBe("1234/5000 (24%) up 1200 degraded 4 down 30 unreachable 0 unknown 0 | 411/s, ETA 9.2 s (deadline in 51 s)");
  });

  it("what a lane starts by its targets' kinds, most first", () => {
    expect(startedText([target(1, { kind: "tls" }), target(2), target(3), target(4, { kind: "http" })])).toBe("started 2 tcp, 1 http, 1 tls");
  });
});

describe("CampaignProgress", () => {
  it("off a terminal: a plain line every 30 s of a long campaign with the counts then, and one as each lane starts", () => {
    vi.useFakeTimers();
    const { stream, written } = pipe();
    const counts = emptyCounts();
    const progress = new CampaignProgress(stream, { now: () => Date.now() });
    const deadlineAt = Date.now() + 1_200_000;
    progress.start(() => ({ counts, done: counts.up + counts.down, total: 5000, deadlineAt }));
    progress.started([target(1)]);
    // Twenty minutes, 200 targets settled a minute.
    for (let half = 0; half < 40; half++) {
      counts.up += 90;
      counts.down += 10;
      vi.advanceTimersByTime(30_000);
    }
    progress.started([target(2), target(3, { kind: "http" })]);
    progress.stop();
    vi.advanceTimersByTime(300_000);
    expect(written).toHaveLength(42);
    expect(written[0]).toMatch(/^check: 0\/5000 \(0%\) up 0 .* \| started 1 tcp\n$/);
    expect(written[1]).toMatch(
      /^check: 100\/5000 \(2%\) up 90 degraded 0 down 10 unreachable 0 unknown 0 \| 3\/s, ETA 24 min 30 s \(deadline in 19 min 30 s\)/,
    );
    expect(written[40]).toMatch(/^check: 4000\/5000 \(80%\) up 3600 /);
    expect(written[41]).toMatch(/\| started 1 http, 1 tcp\n$/);
    for (const line of written) expect(line.includes("\r") || line.includes("\x1b"), line).toBe(false);
  });

  it("on a terminal: the line is redrawn in place, and cleared when the campaign ends", () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const progress = new CampaignProgress({ isTTY: true, write: (t) => written.push(t) > 0 });
    progress.start(() => ({ counts: emptyCounts(), done: 0, total: 10, deadlineAt: performance.now() + 60_000 }));
    vi.advanceTimersByTime(1_000);
    progress.stop();
    expect(written.length).toBeGreaterThanOrEqual(4);
    expect(written.slice(0, -1).every((w) => w.startsWith("\r\x1b[2Kcheck: 0/10 (0%)") && !w.includes("\n"))).toBe(true);
    expect(written.at(-1)).toBe("\r\x1b[2K");
  });

  it("no stream: nothing is written and no timer is left behind", () => {
    vi.useFakeTimers();
    const progress = new CampaignProgress(undefined);
    progress.start(() => ({ counts: emptyCounts(), done: 0, total: 1, deadlineAt: 0 }));
    expect(vi.getTimerCount()).toBe(0);
    progress.stop();
  });
});

describe("a campaign off a terminal", () => {
  it("writes a plain line as each lane starts: the ICMP sweep, then the TCP probes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-progress-"));
    dirs.push(dir);
    const up: Observation = { ok: true, timings: { total: 1 }, values: {} };
    const probe: Probe = { kind: "tcp", probe: async () => up };
    const icmp: BatchProbe = { kind: "icmp", probeAll: async (ts) => new Map(ts.map((t) => [t.key, up])) };
    const gateway = target(0, { key: "g/gw", check: "g", kind: "icmp" });
    const behind = [1, 2, 3].map((n) => target(n, { dependsOn: ["g/gw"] }));
    const plan = { conditions: [], timeoutMs: 500, retries: 0 };
    const { stream, written } = pipe();
    await runCampaign({
      stack: "test",
      from: "unit",
      targets: [...behind, gateway],
      checks: new Map([
        ["t", plan],
        ["g", plan],
      ]),
      probes: { tcp: probe, icmp },
      guard: () => {},
      deadlineMs: 5000,
      maxRate: 100_000,
      concurrency: 8,
      evalContext: { now: Date.now(), electionEnd: Date.now() + 86_400_000 },
      out: join(dir, "results.jsonl"),
      progress: stream,
    });
    const lanes = written.filter((l) => l.includes("| started "));
    expect(lanes).toHaveLength(2);
    expect(lanes[0]).toMatch(/^check: 0\/4 \(0%\) .*\| started 1 icmp\n$/);
    expect(lanes[1]).toMatch(/^check: 1\/4 \(25%\) up 1 .*\| started 3 tcp\n$/);
    const results = (await readFile(join(dir, "results.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { key?: string; status?: string });
    expect(results.filter((r) => r.status === "up").map((r) => r.key)).toEqual(["g/gw", "t/1", "t/2", "t/3"]);
    for (const line of written) expect(line.includes("\r") || line.includes("\x1b"), line).toBe(false);
  });
});
