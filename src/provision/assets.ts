import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { temporarySibling } from "../lib/fs.ts";
import { sha256 } from "./scripts.ts";

/** A file of a role's archive: its absolute path on the server, and its content. */
export interface ArchivedFile {
  readonly path: string;
  readonly content: string;
}

/**
 * A role's files as one archive that a single `CopyToRemote` copies into the server's root (ADR 0012):
 * a directory `dir/tree-<sha256>/` holding each file at its path, named by the hash of the list of
 * (path, sha256 of content). The asset is the directory with a trailing "/", which `CopyToRemote`
 * copies as contents (pulumi-command's rule), so `/etc/nginx/x.conf` lands at `<root>/etc/nginx/x.conf`.
 * The checkpoint holds the directory's path and the archive's hash, never the bytes (ADR 0010).
 *
 * A directory already there is used only if it holds exactly these files, regular files with these
 * bytes: a file added, changed or replaced by a link under the state directory would otherwise be
 * copied to the server, so the directory is written again first. Written whole beside its place, then
 * renamed into it.
 */
export function storedArchive(dir: string, files: readonly ArchivedFile[]): pulumi.asset.FileArchive {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const [i, file] of sorted.entries()) {
    const segments = file.path.split("/").slice(1);
    if (!file.path.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".."))
      throw new Error(`archive file ${JSON.stringify(file.path)}: not an absolute path of plain segments; a renderer declares each file's full path`);
    if (i > 0 && sorted[i - 1]?.path === file.path) throw new Error(`archive file ${file.path}: declared twice for one role; each path has one content`);
  }
  const hashes = sorted.map((f) => sha256(f.content));
  const path = join(dir, `tree-${sha256(sorted.map((f, i) => `${f.path}\0${hashes[i]}\n`).join(""))}`);
  if (!intact(path, sorted, hashes)) {
    const tmp = temporarySibling(path);
    try {
      for (const file of sorted) {
        mkdirSync(dirname(join(tmp, file.path)), { recursive: true });
        writeFileSync(join(tmp, file.path), file.content, { mode: 0o644, flush: true });
      }
      rmSync(path, { recursive: true, force: true });
      renameSync(tmp, path);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      // Another program wrote the same archive meanwhile: theirs is as good.
      if (!intact(path, sorted, hashes)) throw error;
    }
  }
  return new pulumi.asset.FileArchive(`${path}/`);
}

/** The directory holds exactly `files` (sorted by path), each a regular file with its hash, and nothing else. */
function intact(path: string, files: readonly ArchivedFile[], hashes: readonly string[]): boolean {
  if (!existsSync(path) || !lstatSync(path).isDirectory()) return false;
  const wanted = new Map(files.map((f, i) => [f.path, hashes[i]]));
  const dirs = new Set(
    files.flatMap((f) =>
      f.path
        .split("/")
        .slice(1, -1)
        .map((_, i, all) => `/${all.slice(0, i + 1).join("/")}`),
    ),
  );
  let seen = 0;
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
    const rel = `${entry.parentPath.slice(path.length)}/${entry.name}`;
    if (entry.isDirectory() && dirs.has(rel)) continue;
    const hash = wanted.get(rel);
    if (!entry.isFile() || hash === undefined || sha256(readFileSync(join(path, rel), "utf8")) !== hash) return false;
    seen++;
  }
  return seen === files.length;
}
