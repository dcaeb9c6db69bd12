import { describe, expect, it } from "vitest";
import { daysBetween, formatBoth, isTimeZone, parseDate, todayIn, toJalali } from "../../src/model/dates.ts";

describe("dates", () => {
  it.each([
    ["2027-02-25", "2027-02-25"],
    ["1405-12-06", "2027-02-25"],
    ["۱۴۰۵-۱۲-۰۶", "2027-02-25"],
    ["1405/12/6", "2027-02-25"],
    ["1403-12-30", "2025-03-20"], // 1403 is a Jalali leap year
    ["2024-02-29", "2024-02-29"],
  ])("%s is %s", (text, iso) => {
    expect(parseDate(text)).toEqual({ ok: true, iso });
  });

  it.each(["1404-12-30", "1405-13-01", "2027-02-29", "2027-2-30", "25-02-2027", "tomorrow", ""])("%j is not a date", (text) => {
    expect(parseDate(text).ok).toBe(false);
  });

  it("shows both calendars", () => {
    expect(toJalali("2027-02-25")).toBe("1405-12-06");
    expect(formatBoth("2026-11-22")).toBe("1405-09-01 (2026-11-22)");
  });

  it("gives today in a time zone: Tehran is ahead of UTC", () => {
    const lateUtc = new Date("2026-11-22T22:00:00Z");
    expect(todayIn("Asia/Tehran", lateUtc)).toBe("2026-11-23");
    expect(todayIn("UTC", lateUtc)).toBe("2026-11-22");
  });

  it("counts days and knows time zones", () => {
    expect(daysBetween("2026-11-06", "2026-11-22")).toBe(16);
    expect(isTimeZone("Asia/Tehran")).toBe(true);
    expect(isTimeZone("Asia/Tehrn")).toBe(false);
  });
});
