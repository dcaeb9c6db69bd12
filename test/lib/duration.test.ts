// Durations have one reader (issue 15): the catalog's timeouts and conditions and check --deadline.
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/lib/duration.ts";
import { parseDeadline } from "../../src/probe/run.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["1.5s", 1500],
    ["5 m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
  ])("%s is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["2", "s", "2x", "-1s", "2sec", "constructor", "1e3ms", ""])("%j is no duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("check --deadline", () => {
  // Its message always said "100ms to 24h"; its own parser refused hours.
  it("takes hours, as its message says, and holds 100 ms to 24 h", () => {
    expect(parseDeadline("2h")).toBe(7_200_000);
    expect(parseDeadline("24h")).toBe(86_400_000);
    expect(parseDeadline("25h")).toBeUndefined();
    expect(parseDeadline("99ms")).toBeUndefined();
    expect(parseDeadline("60s")).toBe(60_000);
  });
});
