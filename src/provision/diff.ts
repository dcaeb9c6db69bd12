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
