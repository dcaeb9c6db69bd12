// When a command began (startedAt): this process's start, or the first
// process's when it runs again inside a namespace; anything else in the
// variable is not a start and is ignored.
import { describe, expect, it } from "vitest";
import type { Io } from "../../src/cli/command.ts";
import { STARTED_AT_ENV, startedAt } from "../../src/cli/reexec.ts";

const io = (env: Record<string, string>, own?: number): Io => ({
  out: () => undefined,
  err: () => undefined,
  cwd: "/",
  env,
  ...(own === undefined ? {} : { startedAt: own }),
});

describe("startedAt", () => {
  const own = 1_800_000_000_000;
  it("is this process's start without a parent's", () => {
    expect(startedAt(io({}, own))).toBe(own);
  });
  it("is now without either", () => {
    const before = Date.now();
    const at = startedAt(io({}));
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
  it("is the parent's start, passed on by reexecInNetns", () => {
    expect(startedAt(io({ [STARTED_AT_ENV]: String(own - 1500.25) }, own))).toBe(own - 1500.25);
  });
  it.each([
    ["not a number", "soon"],
    ["a number with more after it", `${own - 10} ; rm -rf /`],
    ["later than this process", String(own + 1)],
    ["over a day old", String(own - 86_400_001)],
    ["empty", ""],
    ["negative", String(-(own - 10))],
  ])("ignores a value %s", (_what, value) => {
    expect(startedAt(io({ [STARTED_AT_ENV]: value }, own))).toBe(own);
  });
});
