import { existsSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type FilesInputs, type FilesState, sha256 } from "./remote/files.ts";

/** What a dynamic provider's `diff` answers (pulumi.dynamic.DiffResult, as plain data). */
export interface Diff {
  readonly changes: boolean;
  readonly replaces?: string[];
  readonly deleteBeforeReplace?: boolean;
}

/** Fields that differ between the recorded state and the new inputs; `replacing` ones replace the resource. */
export function diffFields<T extends object>(olds: T, news: T, fields: readonly (keyof T & string)[], replacing: readonly (keyof T & string)[] = fields): Diff {
  const changed = fields.filter((f) => !isDeepStrictEqual(olds[f], news[f]));
  const replaces = changed.filter((f) => replacing.includes(f));
  return { changes: changed.length > 0, ...(replaces.length > 0 ? { replaces } : {}) };
}

/**
 * A role's files: changed when a file's content (by hash), the set of paths,
 * the commands or where they go differ; another server or root replaces.
 */
export function diffFiles(olds: FilesState, news: FilesInputs): Diff {
  const replaces = ["server", "root"].filter((f) => olds[f as "server" | "root"] !== news[f as "server" | "root"]);
  if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: true };
  const wanted = Object.fromEntries(news.files.map((f) => [f.path, sha256(f.content)]));
  const changes =
    !isDeepStrictEqual(wanted, olds.hashes) ||
    !isDeepStrictEqual(news.start, olds.start) ||
    !isDeepStrictEqual(news.stop, olds.stop) ||
    !isDeepStrictEqual(news.connection, olds.connection) ||
    // Servers built again (a new rehearsal) start empty: write and start everything again.
    news.epoch !== (olds.epoch ?? "");
  return { changes };
}

/**
 * Files a resource leaves on the machine that runs the stack (the devices'
 * certificates, the authority's certificate for `check`): the engine's state
 * says they were written, but a rehearsal taken down and built again, or a
 * hand, may have removed them. A file that is gone is written again.
 */
export function diffWithFiles<T extends object>(
  olds: T,
  news: T,
  fields: readonly (keyof T & string)[],
  replacing: readonly (keyof T & string)[],
  mustExist: readonly string[],
): Diff {
  const diff = diffFields(olds, news, fields, replacing);
  if (diff.changes) return diff;
  return { changes: mustExist.some((path) => !existsSync(path)) };
}

/** The device certificates' directory holds the authority's certificate whenever it was signed (pki/openssl.ts signRequests). */
export function issuedMarker(outDir: string): string {
  return join(outDir, "ca.crt");
}
