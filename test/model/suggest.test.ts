import { describe, expect, it } from "vitest";
import { closest, didYouMean, distance } from "../../src/model/suggest.ts";

describe("did you mean", () => {
  it.each([
    ["irancel", ["tci", "mci", "irancell", "rightel"], "irancell"],
    ["fibre", ["fiber", "copper", "mobile"], "fiber"],
    ["siteowner", ["siteOwner", "setting"], "siteOwner"],
    ["lifecylce", ["lifecycle", "links"], "lifecycle"],
  ])("%s → %s", (word, candidates, best) => {
    expect(closest(word, candidates)).toBe(best);
  });

  it("suggests nothing when nothing is close", () => {
    expect(closest("zzzz", ["fiber", "copper"])).toBeUndefined();
    expect(didYouMean("zzzz", ["fiber"])).toBe("");
    expect(didYouMean("mcii", ["mci"])).toBe(' (did you mean "mci"?)');
  });

  it("counts a transposition as one edit", () => {
    expect(distance("fibre", "fiber")).toBe(1);
    expect(distance("abc", "abc")).toBe(0);
  });
});
