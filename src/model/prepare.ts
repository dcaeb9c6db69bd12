import { AmadegiError } from "../lib/errors.ts";
import type { FindingSink } from "./finding.ts";
import { parseSource } from "./parse.ts";
import { type FileRole, readSource, UNCHECKED_WITHOUT } from "./read.ts";
import { scanText, scanValues } from "./scan.ts";
import type { SourceFile } from "./source.ts";

/**
 * Stages 1–2 of one file, up to its schema (ADR 0002): read, the text scans,
 * the parse and the value scan. Each file's are independent of every other's,
 * so a large inventory runs them on other threads (`parallel.ts`); the schema
 * stage, which builds the model's objects, stays on the loader's thread.
 */
export interface Prepared {
  /** The file as read and parsed, for the schema stage and for positions. */
  readonly source: SourceFile | undefined;
  /** It could not be read at all (its finding says why); what needs it is skipped, not failed. */
  readonly absent: boolean;
  /** It parsed as one plain document: only then is its schema read. */
  readonly parsed: boolean;
}

export function prepareFile(path: string, role: FileRole, sink: FindingSink): Prepared {
  let source: SourceFile | undefined;
  try {
    source = readSource(path, sink, UNCHECKED_WITHOUT[role]);
    if (source === undefined) return { source, absent: true, parsed: false };
    scanText(source, sink, source.mayHoldBidi);
    const parsed = parseSource(source, sink);
    scanValues(source, sink);
    return { source, absent: false, parsed };
  } catch (error) {
    if (error instanceof AmadegiError) throw error;
    // Read (or not) but not understood: its finding is an error, so nothing is built on it.
    internalError(sink, path, role, error);
    return { source, absent: false, parsed: false };
  }
}

export function internalError(sink: FindingSink, path: string, role: FileRole, error: unknown): void {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  sink.add(
    "internal.error",
    { file: path, line: 1, col: 1 },
    "-",
    `amadegi failed while checking this ${role} file (${what.slice(0, 200)})`,
    "this is a bug in amadegi: report it with the file; run with AMADEGI_DEBUG=1 for details",
  );
}
