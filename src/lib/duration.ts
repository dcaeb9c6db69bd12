/**
 * Durations as people write them: a number and a unit (`500ms`, `2s`, `5m`,
 * `2h`, `1d`). The one home of the units and of reading one: the check
 * catalog's timeouts and conditions, and `check --deadline`.
 */

/** Duration units and their length in milliseconds. */
export const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** `2s` → 2000; a number without a unit, an unknown unit or anything else → undefined. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text.trim());
  const unit = match?.[2] ?? "";
  if (match === null || !Object.hasOwn(DURATION_UNITS, unit)) return undefined;
  return Number(match[1]) * DURATION_UNITS[unit as DurationUnit];
}
