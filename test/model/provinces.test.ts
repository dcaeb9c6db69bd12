// The provinces' names: the 31, each id once, both languages, and an unknown id shown as written.
import { describe, expect, it } from "vitest";
import { PROVINCE_NAMES, provinceName } from "../../src/model/index.ts";
import { PROVINCES } from "../../src/model/synthetic/names.ts";

describe("provinces", () => {
  it("lists Iran's 31 provinces, each id once, each with a Persian and an English name", () => {
    expect(PROVINCE_NAMES).toHaveLength(31);
    expect(new Set(PROVINCE_NAMES.map((p) => p.id)).size).toBe(31);
    for (const p of PROVINCE_NAMES) {
      expect(p.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(p.fa).toMatch(/^[\u0600-\u06ff ]+$/);
      expect(p.en).toMatch(/^[A-Z][A-Za-z -]+$/);
    }
  });
  it("names a province in either language, and an id it does not know as written", () => {
    expect(provinceName("razavi-khorasan", "fa")).toBe("خراسان رضوی");
    expect(provinceName("razavi-khorasan", "en")).toBe("Razavi Khorasan");
    expect(provinceName("no-such", "fa")).toBe("no-such");
  });
  it("is where the synthetic country takes its provinces' names from", () => {
    expect(PROVINCES.map((p) => [p.id, p.name])).toEqual(PROVINCE_NAMES.map((p) => [p.id, p.fa]));
  });
});
