// `up`/`preview`/`destroy` say how far the engine got (issue 19): a line on stderr as each phase
// starts and every 30 s after, with the steps done so far, under way and failed — of the steps
// the preview counted, when one ran first. The engine's steps here are the test's; the timers
// and the clock are vitest's fakes.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stackProgress } from "../../../src/cli/commands/stack.ts";
import type { Step } from "../../../src/provision/workspace.ts";

const step = (n: number): Step => ({ op: "create", urn: `urn:pulumi:s::amadegi::command:remote:Command::r${n}`, type: "command:remote:Command" });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("stackProgress", () => {
  it("a line as each phase starts and every 30 s after, with the steps done of those the preview counted", () => {
    const err: string[] = [];
    const progress = stackProgress("up of stack rehearsal", { err: (l) => err.push(l) }, { now: () => Date.now() });
    progress.phase("preview");
    for (let n = 0; n < 4; n++) {
      progress.onStep(step(n), "start");
      progress.onStep(step(n), "done");
    }
    progress.stop();
    vi.advanceTimersByTime(120_000);
    expect(err).toEqual(["up of stack rehearsal: 0 steps done, 0 under way; 0.0 s | phase: preview"]);

    progress.phase("up", 4);
    progress.onStep(step(0), "start");
    progress.onStep(step(1), "start");
    progress.onStep(step(0), "done");
    vi.advanceTimersByTime(30_000);
    progress.onStep(step(2), "start");
    progress.onStep(step(1), "failed");
    vi.advanceTimersByTime(30_000);
    progress.stop();
    vi.advanceTimersByTime(300_000);
    expect(err.slice(1)).toEqual([
      "up of stack rehearsal: 0/4 (0%) steps done, 0 under way; 0.0 s | phase: up",
      "up of stack rehearsal: 1/4 (25%) steps done, 1 under way; 30 s | phase: up",
      "up of stack rehearsal: 2/4 (50%) steps done, 1 under way, 1 failed; 1 min 0 s | phase: up",
    ]);
  });

  it("more steps than the preview counted: the count goes on without a total", () => {
    const err: string[] = [];
    const progress = stackProgress("destroy of stack s", { err: (l) => err.push(l) }, { now: () => Date.now() });
    progress.phase("destroy", 1);
    for (const n of [0, 1]) {
      progress.onStep(step(n), "start");
      progress.onStep(step(n), "done");
    }
    vi.advanceTimersByTime(30_000);
    progress.stop();
    expect(err.at(-1)).toBe("destroy of stack s: 2 steps done, 0 under way; 30 s | phase: destroy");
  });
});
