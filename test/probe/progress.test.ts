// A campaign's progress (issue 19): a twenty-minute `check` in a CI log says how far it got every
// 30 s and as each phase starts, in plain lines; on a terminal the line is redrawn as before. The
// timers and the clock are vitest's fakes, except in the campaign run at the end, whose phases
// alone are asserted.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runCampaign } from "../../src/probe/campaign/index.ts";
import { campaignLine, CampaignProgress, phaseText, type CampaignState } from "../../src/probe/progress.ts";
import { emptyCounts } from "../../src/probe/summary.ts";
import type { Observation, Probe, Target } from "../../src/probe/types.ts";

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

  it("a phase by its place and its targets' kinds, most first", () => {
    const phase = { icmp: [target(1, { kind: "icmp" })], other: [target(2), target(3), target(4, { kind: "tls" })] };
    expect(phaseText(1, 3, phase)).toBe("phase 2/3: 2 tcp, 1 icmp, 1 tls");
  });
});

describe("CampaignProgress", () => {
  it("off a terminal: a plain line every 30 s of a long campaign with the counts then, and one at each phase", () => {
    vi.useFakeTimers();
    const { stream, written } = pipe();
    const counts = emptyCounts();
    const progress = new CampaignProgress(stream, { now: () => Date.now() });
    const deadlineAt = Date.now() + 1_200_000;
    progress.start(() => ({ counts, done: counts.up + counts.down, total: 5000, deadlineAt }));
    progress.phase(0, 2, { icmp: [], other: [target(1)] });
    // Twenty minutes, 200 targets settled a minute.
    for (let half = 0; half < 40; half++) {
      counts.up += 90;
      counts.down += 10;
      vi.advanceTimersByTime(30_000);
    }
    progress.phase(1, 2, { icmp: [], other: [target(2)] });
    progress.stop();
    vi.advanceTimersByTime(300_000);
    expect(written).toHaveLength(42);
    expect(written[0]).toMatch(/^check: 0\/5000 \(0%\) up 0 .* \| phase 1\/2: 1 tcp\n$/);
    expect(written[1]).toMatch(
      /^check: 100\/5000 \(2%\) up 90 degraded 0 down 10 unreachable 0 unknown 0 \| 3\/s, ETA 24 min 30 s \(deadline in 19 min 30 s\)/,
    );
    expect(written[40]).toMatch(/^check: 4000\/5000 \(80%\) up 3600 /);
    expect(written[41]).toMatch(/\| phase 2\/2: 1 tcp\n$/);
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
  it("writes a plain line as each of its phases starts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-progress-"));
    dirs.push(dir);
    const up: Observation = { ok: true, timings: { total: 1 }, values: {} };
    const probe: Probe = { kind: "tcp", probe: async () => up };
    const gateway = target(0, { key: "g/gw", check: "g" });
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
      probes: { tcp: probe },
      guard: () => {},
      deadlineMs: 5000,
      maxRate: 100_000,
      concurrency: 8,
      evalContext: { now: Date.now(), electionEnd: Date.now() + 86_400_000 },
      out: join(dir, "results.jsonl"),
      progress: stream,
    });
    const phases = written.filter((l) => l.includes("| phase "));
    expect(phases).toHaveLength(2);
    expect(phases[0]).toMatch(/^check: 0\/4 \(0%\) .*\| phase 1\/2: 1 tcp\n$/);
    expect(phases[1]).toMatch(/^check: 1\/4 \(25%\) up 1 .*\| phase 2\/2: 3 tcp\n$/);
    for (const line of written) expect(line.includes("\r") || line.includes("\x1b"), line).toBe(false);
  });
});
