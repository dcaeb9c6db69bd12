// The demo's answer to a busy machine (issue 12): a campaign the self-watch
// invalidated is run again, saying why, at most twice; then the demo names
// every invalidation. The runs here write real results files with the
// campaign's ResultsWriter; what `check` would do is decided by the test.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { announcedStage, rerunInvalidCampaign, type StageRun } from "../../../src/cli/commands/demo.ts";
import { ResultsWriter } from "../../../src/probe/results.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A campaign's file as `check` leaves it: valid, invalid with reasons, or interrupted. */
function campaign(file: string, invalid: readonly string[], interrupted = false): void {
  const w = new ResultsWriter(file, {
    type: "campaign",
    version: 1,
    id: "c",
    stack: "rehearsal",
    from: "test",
    startedAt: new Date().toISOString(),
    deadlineMs: 60_000,
    targets: 0,
  });
  w.close({
    type: "end",
    id: "c",
    finishedAt: new Date().toISOString(),
    valid: invalid.length === 0 && !interrupted,
    invalid: [...invalid],
    interrupted,
    counts: { up: 0, degraded: 0, down: 0, unreachable: 0, unknown: 0 },
  });
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-demo-"));
  dirs.push(dir);
  const out: string[] = [];
  const err: string[] = [];
  return { file: join(dir, "results.jsonl"), io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("the demo's campaign on a busy machine", () => {
  it("an invalid campaign is run again, saying why; a valid one then gives the verdict", async () => {
    const { file, io, out, err } = await setup();
    campaign(file, ["event loop blocked for 1108 ms at +0.6s (limit 1000 ms)"]);
    const runs: number[] = [];
    const result = await rerunInvalidCampaign(
      { code: 2, last: "invalid campaign" },
      file,
      async (retry) => {
        runs.push(retry);
        campaign(file, []);
        return { code: 1, last: "not ready" };
      },
      io,
    );
    expect(result).toEqual({ code: 1, last: "not ready" });
    expect(runs).toEqual([1]);
    expect(out.join("\n")).toMatch(/the campaign was invalid \(event loop blocked for 1108 ms.*\): running it again \(1 of 2\)/);
    expect(err).toEqual([]);
  });

  it("three invalid campaigns: exit 2, naming each invalidation", async () => {
    const { file, io, err } = await setup();
    campaign(file, ["event loop blocked for 1200 ms at +1.0s (limit 1000 ms)"]);
    const runs: number[] = [];
    const result = await rerunInvalidCampaign(
      { code: 2, last: "invalid" },
      file,
      async (retry) => {
        runs.push(retry);
        campaign(file, [`event loop blocked for ${1300 + retry} ms at +2.0s (limit 1000 ms)`]);
        return { code: 2, last: "invalid" };
      },
      io,
    );
    expect(result.code).toBe(2);
    expect(runs).toEqual([1, 2]);
    expect(err.join("\n")).toMatch(
      /run 1: event loop blocked for 1200 ms[\s\S]*run 2: event loop blocked for 1301 ms[\s\S]*run 3: event loop blocked for 1302 ms/,
    );
  });

  it("a campaign that could not run (no results) or was interrupted is not run again; a good one is left alone", async () => {
    const { file, io } = await setup();
    let reruns = 0;
    const rerun = async () => {
      reruns++;
      return { code: 0, last: "" };
    };
    expect((await rerunInvalidCampaign({ code: 2, last: "bad settings" }, file, rerun, io)).code).toBe(2);
    campaign(file, [], true);
    expect((await rerunInvalidCampaign({ code: 2, last: "interrupted" }, file, rerun, io)).code).toBe(2);
    campaign(file, []);
    expect((await rerunInvalidCampaign({ code: 1, last: "not ready" }, file, rerun, io)).code).toBe(1);
    expect(reruns).toBe(0);
  });
});

// Issue 19: a stage is announced as it starts, not only once it has finished; a long one (up,
// check) says every 30 s that it is still running and the last line it printed; its end comes
// with its time. The stage is the test's; the timers and the clock are vitest's fakes.
describe("the demo's stages as they run", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("says a stage has started before it ends, every 30 s while it runs with its last line, and when it finished", async () => {
    vi.useFakeTimers();
    const out: string[] = [];
    let finish: (run: StageRun) => void = () => {};
    const running = announcedStage(
      { index: 3, count: 9, title: "up: the rehearsal stack provisions the servers" },
      (seen) => {
        seen("Updating (rehearsal):");
        setTimeout(() => seen("up of stack rehearsal: 40/120 (33%) steps done, 4 under way; 1 min 0 s | phase: up"), 45_000);
        return new Promise((resolve) => (finish = resolve));
      },
      { out: (l) => out.push(l) },
      { now: () => Date.now() },
    );
    expect(out).toEqual(["demo: stage 4/9: up: the rehearsal stack provisions the servers"]);
    vi.advanceTimersByTime(90_000);
    expect(out.slice(1)).toEqual([
      "demo: stage 4/9: running for 30 s — Updating (rehearsal):",
      "demo: stage 4/9: running for 1 min 0 s — up of stack rehearsal: 40/120 (33%) steps done, 4 under way; 1 min 0 s | phase: up",
      "demo: stage 4/9: running for 1 min 30 s — up of stack rehearsal: 40/120 (33%) steps done, 4 under way; 1 min 0 s | phase: up",
    ]);
    vi.advanceTimersByTime(5_000);
    finish({ code: 0, last: "up of stack rehearsal: create 120" });
    await expect(running).resolves.toEqual({ code: 0, last: "up of stack rehearsal: create 120" });
    expect(out.at(-1)).toBe("demo: stage 4/9 finished in 1 min 35 s, exit 0 — up of stack rehearsal: create 120");
    vi.advanceTimersByTime(120_000);
    expect(out).toHaveLength(5);
  });

  it("a campaign run again is named so; its last line is shown as text, escapes visible", async () => {
    const out: string[] = [];
    await announcedStage({ index: 5, count: 9, title: "check", again: true }, async () => ({ code: 1, last: "\x1b[31mnot ready" }), {
      out: (l) => out.push(l),
    });
    expect(out[0]).toBe("demo: stage 6/9 again: check");
    expect(out[1]).toMatch(/^demo: stage 6\/9 again finished in \d+\.\d s, exit 1 — \\u001B\[31mnot ready$/);
  });
});
