/** A JSON object read at drift's boundaries (a provisioned state, a report): not null, not a list. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
