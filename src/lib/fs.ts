import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, basename } from "node:path";

/**
 * A fresh hidden name beside `path`, on the same file system, for a file that
 * is written whole and then renamed over `path` (writers that stream do the
 * rename themselves).
 */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Write a file so that a reader sees either the old content or the new, never
 * half of it: write a sibling temporary file, then rename it over the target.
 * `data` may come in pieces (an iterable of strings, each written as it is made): a file of
 * many megabytes is then never one string.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<string>, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = temporarySibling(path);
  try {
    await writeFile(tmp, data, { mode, flush: true });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** writeFileAtomic for a caller that cannot wait (a Pulumi component's constructor). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = temporarySibling(path);
  try {
    writeFileSync(tmp, data, { mode, flush: true });
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * sha256 over the files of `dir` whose names end in `suffix` (names and
 * contents, in name order), and how many there are: one value that changes
 * when any of them is added, removed or changed. A missing directory has none.
 */
export function digestFiles(dir: string, suffix: string): { digest: string; count: number } {
  const hash = createHash("sha256");
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(suffix))
        .sort()
    : [];
  for (const file of files)
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(join(dir, file)))
      .update("\0");
  return { digest: hash.digest("hex"), count: files.length };
}

/** Keep the `keep` newest files (by modification time) of `dir` named `<prefix>…<suffix>`, remove the others: a cache's bound. */
export async function keepNewest(dir: string, prefix: string, suffix: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(prefix) && n.endsWith(suffix));
  if (names.length <= keep) return;
  const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  dated.sort((a, b) => b.t - a.t);
  for (const { n } of dated.slice(keep)) await rm(join(dir, n), { force: true });
}

/** The sha256 (hex) of a tag line and then each file's bytes, in order: a cache's key for the code that wrote it. */
export async function hashFiles(tag: string, files: readonly string[]): Promise<string> {
  const hash = createHash("sha256").update(`${tag}\n`);
  for (const file of files) hash.update(await readFile(file));
  return hash.digest("hex");
}
