/** The middle value of a benchmark's runs (the upper middle for an even count). */
export function median(xs: readonly number[]): number {
  return medianBy(xs, (x) => x) ?? Number.NaN;
}

/** The run whose figure is the middle one, by the same rule as median: a whole row to show beside the figures. */
export function medianBy<T>(xs: readonly T[], by: (x: T) => number): T | undefined {
  const sorted = [...xs].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor(sorted.length / 2)];
}
