import { describe, expect, it } from "vitest";
import { asciiDigits, BIDI_CONTROLS, normalizeName } from "../../src/model/normalize.ts";

describe("normalizeName", () => {
  it.each([
    ["Arabic yeh and kaf", "دبستان يكم", "دبستان یکم"],
    ["alef maksura", "مصطفى", "مصطفی"],
    ["Persian digits", "منطقه ۱۴", "منطقه 14"],
    ["Arabic-Indic digits", "منطقه ١٤", "منطقه 14"],
    ["ZWNJ", "پیش‌دبستانی", "پیشدبستانی"],
    ["tatweel", "مدرســـه", "مدرسه"],
    ["diacritics", "مَدرِسه", "مدرسه"],
    ["spaces", "  دبستان   یکم ", "دبستان یکم"],
    ["ASCII case", "School One", "school one"],
    ["presentation forms (NFKC)", "\uFEFB\uFEE0\uFEE4\uFEEA", "لالمه"],
  ])("%s", (_what, a, b) => {
    expect(normalizeName(a)).toBe(normalizeName(b));
  });

  it("keeps different names different", () => {
    expect(normalizeName("دبستان یکم")).not.toBe(normalizeName("دبستان دوم"));
  });

  it("asciiDigits changes only digits", () => {
    expect(asciiDigits("۱۴۰۵-۱۲-۰۶ ب")).toBe("1405-12-06 ب");
  });

  it.each(["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\u200E", "\u200F", "\u061C"])(
    "treats %j as a bidirectional control",
    (c) => {
      expect(`a${c}b`.match(BIDI_CONTROLS)).toEqual([c]);
    },
  );

  it("does not treat ZWNJ as a bidirectional control", () => {
    expect("a\u200Cb".match(BIDI_CONTROLS)).toBeNull();
  });
});
