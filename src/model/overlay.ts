import { existsSync } from "node:fs";
import { InventoryError } from "../lib/errors.ts";
import { type Finding, FindingSink, sortFindings } from "./finding.ts";
import { parseSource } from "./parse.ts";
import { readSource } from "./read.ts";
import { INVALID, Reader, type Schema } from "./schema/core.ts";
import type { SourceFile } from "./source.ts";

/** An overlay read: its source and value, and the sink its caller's own checks report into (then close). */
export type OverlayRead<T> =
  { readonly ok: true; readonly source: SourceFile; readonly value: T; readonly sink: FindingSink } | { readonly ok: false; readonly findings: Finding[] };

/**
 * A stack's overlay file (the pins overlay, the device-keys overlay) read like an inventory
 * file: bounded, positions, closed mappings, "did you mean". A file that does not exist throws
 * InventoryError naming it and `hint`; one that does not parse or match `schema` is its findings.
 */
export function readOverlay<T>(file: string, schema: Schema<T>, what: string, hint: string): OverlayRead<T> {
  if (!existsSync(file)) throw new InventoryError(`no ${what} ${file}`, { file, hint });
  const sink = new FindingSink();
  const source = readSource(file, sink);
  if (source === undefined || !parseSource(source, sink)) return { ok: false, findings: sortFindings(sink.close()) };
  const reader = new Reader(source, sink);
  reader.item = "-";
  reader.i = 1;
  const value = schema.read(reader);
  if (value === INVALID) return { ok: false, findings: sortFindings(sink.close()) };
  return { ok: true, source, value, sink };
}
