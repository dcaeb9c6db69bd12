import { isValidJalaaliDate, toGregorian, toJalaali } from "jalaali-js";
import { asciiDigits } from "./normalize.ts";

/**
 * Dates in the inventory are calendar days. Writers may use ISO
 * (`2027-02-25`) or Jalali (`1405-12-06`, `۱۴۰۵/۱۲/۰۶`); the model keeps
 * ISO strings (`IsoDate`, which compare correctly as text) and reports show
 * both calendars.
 */
export type IsoDate = string;

const SHAPE = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/;
/** Years below this are Jalali: the Jalali year is about 621 behind the Gregorian. */
const JALALI_BEFORE = 1700;

export type DateResult = { readonly ok: true; readonly iso: IsoDate } | { readonly ok: false; readonly reason: string };

export function parseDate(text: string): DateResult {
  const match = SHAPE.exec(asciiDigits(text.trim()));
  if (match === null) return { ok: false, reason: "expected YYYY-MM-DD (ISO) or a Jalali date such as 1405-12-06" };
  const y = Number(match[1]);
  const m = Number(match[2]);
  const d = Number(match[3]);
  if (y < JALALI_BEFORE) {
    if (!isValidJalaaliDate(y, m, d)) return { ok: false, reason: `${y}-${m}-${d} is not a day of the Jalali calendar` };
    const g = toGregorian(y, m, d);
    return { ok: true, iso: iso(g.gy, g.gm, g.gd) };
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    return { ok: false, reason: `${y}-${m}-${d} is not a day of the Gregorian calendar` };
  }
  return { ok: true, iso: iso(y, m, d) };
}

function iso(y: number, m: number, d: number): IsoDate {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** The Jalali form of an ISO date, `1405-12-06`. */
export function toJalali(date: IsoDate): string {
  const [y = 0, m = 0, d = 0] = date.split("-").map(Number);
  const j = toJalaali(y, m, d);
  return `${j.jy}-${String(j.jm).padStart(2, "0")}-${String(j.jd).padStart(2, "0")}`;
}

/** Both calendars, Jalali first as the committee reads it: `1405-12-06 (2027-02-25)`. */
export function formatBoth(date: IsoDate): string {
  return `${toJalali(date)} (${date})`;
}

/** Today's date in a time zone (the election's), as an ISO date. */
export function todayIn(timeZone: string, now: Date = new Date()): IsoDate {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * An instant written by a program (results, check-ins, drift reports, approvals):
 * ISO 8601 with a zone, to the second, else undefined. Never `Date.parse` alone
 * on data: it reads "(forever) Feb 2099" as a date and "soon" as NaN, and NaN
 * compares false with everything — an expiry or a check-in that is not a time
 * would count as good (issue 14).
 */
export function parseInstant(text: string): number | undefined {
  if (!INSTANT.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Midnight at the start of `day` in `timeZone`, as ms since the epoch: the one
 * home of "midnight in the election's time zone" (check-in windows, the end of
 * election day). The zone's offset is asked at the guess twice, in case it
 * changes that night.
 */
export function midnightIn(day: IsoDate, timeZone: string): number {
  const [y = 1970, m = 1, d = 1] = day.split("-").map(Number);
  const utcMidnight = Date.UTC(y, m - 1, d);
  let guess = utcMidnight;
  for (let i = 0; i < 2; i++) guess = utcMidnight - offsetAt(guess, timeZone);
  return guess;
}

/** One formatter per zone: making one costs about a millisecond, and a gate asks for midnight once per criterion. */
const FORMATS = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  let format = FORMATS.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    FORMATS.set(timeZone, format);
  }
  const parts = format.formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return local - Math.floor(instant / 1000) * 1000;
}

/** An ISO day plus (or minus) whole days. */
export function addDays(date: IsoDate, days: number): IsoDate {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
