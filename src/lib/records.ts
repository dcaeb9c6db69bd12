/**
 * Tables keyed by data (issue 14). An id, an owner or a parameter name comes
 * from a file many hands edit: `constructor` or `toString` is a valid id, and
 * on a plain object it would read as `Object.prototype`'s member. Such tables
 * are Maps, or records made here, with no prototype; a lookup of a data key in
 * a constant table goes through `ownEntry`.
 */

/** An empty record for data keys: no prototype, so every key is only what was put there. */
export function dataRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/** A constant table's own entry for a key that came from data; never an inherited member. */
export function ownEntry<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A JSON object read at a boundary (a state, a report, a cached digest, a tool's answer): not null, not a list. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
