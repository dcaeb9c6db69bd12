import { readFileSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import { basename, dirname, join } from "node:path";
import { InventoryError } from "../lib/errors.ts";
import type { FindingSink, Location } from "./finding.ts";
import { mayHoldBidi } from "./scan.ts";
import { SourceFile } from "./source.ts";

/**
 * Stage 1, read: find the inventory's files and decode each one, refusing
 * what cannot be an inventory file (huge, binary, not UTF-8, empty) with a
 * finding. A UTF-8 BOM is dropped; CRLF line ends are left to the parser,
 * which accepts them.
 */

export const MAX_FILE_BYTES = 32 * 1024 * 1024;

export type FileRole = "election" | "operators" | "servers" | "waivers" | "district" | "committee";

export interface PlannedFile {
  readonly role: FileRole;
  /** The path as findings show it: the inventory directory as given, joined with the name. */
  readonly path: string;
}

const TOP_LEVEL: readonly { name: string; role: FileRole; required: boolean }[] = [
  { name: "election.yaml", role: "election", required: true },
  { name: "operators.yaml", role: "operators", required: true },
  { name: "servers.yaml", role: "servers", required: true },
  { name: "waivers.yaml", role: "waivers", required: false },
];

interface Entry {
  readonly name: string;
  /** A directory itself, never a link to one. */
  readonly isDir: boolean;
  /** A symbolic link: never followed (Dirent does not follow links). */
  readonly isLink: boolean;
}

async function entries(dir: string): Promise<Entry[] | undefined> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list.map((e) => ({ name: e.name, isDir: e.isDirectory(), isLink: e.isSymbolicLink() })).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InventoryError(`cannot read ${dir}: ${(error as Error).message}`, { file: dir, cause: error });
  }
}

function isIgnored(name: string): boolean {
  // Notes next to the data are welcome; dotfiles belong to editors and git.
  return name.startsWith(".") || name.endsWith(".md");
}

/** The files of the inventory in `dir`; throws InventoryError when there is no inventory at all. */
export async function planFiles(dir: string, committeeFile: string, sink: FindingSink): Promise<PlannedFile[]> {
  const top = await entries(dir);
  if (top === undefined) {
    throw new InventoryError(`no inventory directory ${dir}`, { file: dir, hint: "pass --inventory DIR, the directory holding election.yaml" });
  }
  const names = new Set(top.map((e) => e.name));
  // A link is never followed: a pull request could point districts/x.yaml at a file of the
  // runner (a key, the passphrase), and findings quote its lines into the pull request.
  const links = new Set(top.filter((e) => e.isLink).map((e) => e.name));
  const hasDistricts = top.some((e) => e.name === "districts" && e.isDir);
  if (!TOP_LEVEL.some((t) => names.has(t.name)) && !hasDistricts) {
    const nested = await entries(join(dir, "inventory"));
    const hint = nested?.some((e) => e.name === "election.yaml") === true ? `did you mean --inventory ${join(dir, "inventory")}?` : "an inventory holds election.yaml, operators.yaml, servers.yaml and districts/*.yaml";
    throw new InventoryError(`no inventory in ${dir}`, { file: dir, hint });
  }
  const planned: PlannedFile[] = [];
  for (const t of TOP_LEVEL) {
    if (links.has(t.name)) symlink(sink, join(dir, t.name));
    else if (names.has(t.name)) planned.push({ role: t.role, path: join(dir, t.name) });
    else if (t.required) missing(sink, join(dir, t.name), `the inventory has no ${t.name}`);
  }
  const known = new Set([...TOP_LEVEL.map((t) => t.name), "districts"]);
  for (const e of top) {
    if (known.has(e.name) || isIgnored(e.name)) continue;
    unknown(sink, join(dir, e.name), e.isDir);
  }
  const districtDir = join(dir, "districts");
  if (links.has("districts")) symlink(sink, districtDir);
  for (const e of hasDistricts ? ((await entries(districtDir)) ?? []) : []) {
    if (isIgnored(e.name)) continue;
    if (e.isLink && e.name.endsWith(".yaml")) symlink(sink, join(districtDir, e.name));
    else if (!e.isDir && !e.isLink && e.name.endsWith(".yaml")) planned.push({ role: "district", path: join(districtDir, e.name) });
    else unknown(sink, join(districtDir, e.name), e.isDir);
  }
  if (!planned.some((p) => p.role === "district") && !links.has("districts")) missing(sink, districtDir, "the inventory has no district files (districts/*.yaml)");
  try {
    await stat(committeeFile);
    planned.push({ role: "committee", path: committeeFile });
  } catch {
    missing(sink, committeeFile, `no committee file ${committeeFile}: waivers cannot be checked against their approvers`);
  }
  return planned;
}

function missing(sink: FindingSink, path: string, message: string): void {
  sink.add("input.missing-file", { file: path, line: 1, col: 1 }, "-", message, `create ${basename(path)} (see docs/inventory.md)`);
}

function symlink(sink: FindingSink, path: string): void {
  sink.add("input.symlink", { file: path, line: 1, col: 1 }, "-", `${path} is a symbolic link; links are not followed and it is not read`, "replace the link with the file itself");
}

function unknown(sink: FindingSink, path: string, isDir: boolean): void {
  const name = basename(path);
  const hint = name.endsWith(".yml") ? `rename it to ${name.slice(0, -4)}.yaml` : `move it out of ${dirname(path)}; only .yaml files are read`;
  sink.add("input.unknown-file", { file: path, line: 1, col: 1 }, "-", `${isDir ? "directory" : "file"} ${name} is not part of the inventory and is not read`, hint);
}

/** Decode one file, or report why it cannot be an inventory file. */
export function readSource(path: string, sink: FindingSink): SourceFile | undefined {
  const start: Location = { file: path, line: 1, col: 1 };
  let size: number;
  try {
    // Synchronous on purpose: a national run reads 1,200 small files one after
    // another, and the event loop has nothing else to do meanwhile.
    size = statSync(path).size;
  } catch (error) {
    throw new InventoryError(`cannot read ${path}: ${(error as Error).message}`, { file: path, cause: error });
  }
  if (size > MAX_FILE_BYTES) {
    sink.add("input.too-large", start, "-", `${path} is ${(size / 1048576).toFixed(0)} MiB; the limit is ${MAX_FILE_BYTES / 1048576} MiB per file`, "split it: one file per county under districts/");
    return undefined;
  }
  const bytes = readFileSync(path);
  if (bytes.length === 0) return empty(sink, start, path);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    sink.add("input.encoding", start, "-", `${path} is UTF-16`, "save it as UTF-8");
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    sink.add("input.binary", byteLocation(path, bytes, nul), "-", `${path} holds a NUL byte: it is binary, not YAML`, "replace it with the YAML file it should be");
    return undefined;
  }
  if (!isUtf8(bytes)) {
    const at = firstInvalidUtf8(bytes);
    sink.add("input.encoding", byteLocation(path, bytes, at), "-", `${path} is not valid UTF-8 (byte 0x${(bytes[at] ?? 0).toString(16)} at offset ${at})`, "save it as UTF-8 (not Windows-1256)");
    return undefined;
  }
  const decoded = bytes.toString("utf8");
  const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  if (text.trim() === "") return empty(sink, start, path);
  const source = new SourceFile(path, text);
  source.mayHoldBidi = mayHoldBidi(bytes);
  return source;
}

function empty(sink: FindingSink, start: Location, path: string): undefined {
  sink.add("input.empty", start, "-", `${path} is empty`, "write its top-level key, e.g. `waivers: []`, or delete the file");
  return undefined;
}

/** Line and column (in characters) of a byte offset, for findings before decoding. */
function byteLocation(file: string, bytes: Buffer, offset: number): Location {
  const lineStart = bytes.lastIndexOf(0x0a, offset - 1) + 1;
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  return { file, line, col: bytes.subarray(lineStart, offset).toString("utf8").length + 1 };
}

/** The offset of the first byte that breaks UTF-8 (only called once isUtf8 said no). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}
