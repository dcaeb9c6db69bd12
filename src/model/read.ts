import { closeSync, constants, type Dirent, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import { basename, dirname, join } from "node:path";
import { InventoryError } from "../lib/errors.ts";
import type { FindingSink, Location } from "./finding.ts";
import { mayHoldBidi } from "./scan.ts";
import { SourceFile } from "./source.ts";

/**
 * Stage 1, read: find the inventory's files and decode each one, refusing
 * what cannot be an inventory file (a link, a special file, huge, binary,
 * not UTF-8, empty) with a finding. A UTF-8 BOM is dropped; CRLF line ends
 * are left to the parser, which accepts them.
 *
 * Reading stays inside the inventory: the directory a command is given may
 * be a link (a checkout may be), but nothing under it is followed. Each entry
 * is judged by `lstat` (readdir's own types), and each file is opened with
 * O_NOFOLLOW | O_NONBLOCK and judged again by `fstat` on what was opened, so
 * a link, a named pipe or a device is refused before a byte is read, and a
 * regular file is read only up to MAX_FILE_BYTES.
 */

export const MAX_FILE_BYTES = 32 * 1024 * 1024;

export type FileRole = "election" | "operators" | "servers" | "waivers" | "district" | "committee";

export interface PlannedFile {
  readonly role: FileRole;
  /** The path as findings show it: the inventory directory as given, joined with the name. */
  readonly path: string;
}

export interface Plan {
  /** The files to read. */
  readonly files: PlannedFile[];
  /**
   * Files that cannot be read at all: required and missing, or refused (a
   * link, not a file). Each is reported once; `path` is where that finding is.
   */
  readonly absent: PlannedFile[];
}

/**
 * What is left unchecked while a file of this role is absent (ADR 0002,
 * "One file absent"): the finding that names the file says so, and
 * load.ts skips exactly this.
 */
export const UNCHECKED_WITHOUT: Readonly<Record<FileRole, string>> = {
  election: "references and policy rules are not checked until it is read",
  operators: "links' operators, points of presence and owners, and redundancy, are not checked",
  servers: "gateways, sites and gateway capacity are not checked",
  waivers: "no waiver is applied: every finding stands",
  district: "waivers' items, and whether each waiver is used, are not checked",
  committee: "waivers' approvers cannot be checked; the rest of the inventory is",
};

const TOP_LEVEL: readonly { name: string; role: FileRole; required: boolean }[] = [
  { name: "election.yaml", role: "election", required: true },
  { name: "operators.yaml", role: "operators", required: true },
  { name: "servers.yaml", role: "servers", required: true },
  { name: "waivers.yaml", role: "waivers", required: false },
];

type Kind = "file" | "directory" | "link" | "special";

interface Entry {
  readonly name: string;
  /** From lstat: a link is a link, never what it points to. */
  readonly kind: Kind;
  /** How a finding names it: "a named pipe (FIFO)", "a directory"… */
  readonly what: string;
}

function kindOf(s: Dirent | Stats): Kind {
  return s.isSymbolicLink() ? "link" : s.isFile() ? "file" : s.isDirectory() ? "directory" : "special";
}

function describe(s: Dirent | Stats): string {
  if (s.isSymbolicLink()) return "a symbolic link";
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a named pipe (FIFO)";
  if (s.isSocket()) return "a socket";
  if (s.isCharacterDevice() || s.isBlockDevice()) return "a device";
  return s.isFile() ? "a regular file" : "a special file";
}

function entry(name: string, s: Dirent | Stats): Entry {
  return { name, kind: kindOf(s), what: describe(s) };
}

/** The entries of `dir` (readdir's types come from lstat), or undefined when it does not exist. */
async function entries(dir: string): Promise<Entry[] | undefined> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list.map((e) => entry(e.name, e)).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InventoryError(`cannot read ${dir}: ${(error as Error).message}`, { file: dir, cause: error });
  }
}

/** One path's own entry, not following a link; undefined when it does not exist. */
async function lstatEntry(path: string): Promise<Entry | undefined> {
  try {
    return entry(basename(path), await lstat(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw new InventoryError(`cannot read ${path}: ${(error as Error).message}`, { file: path, cause: error });
  }
}

function isIgnored(name: string): boolean {
  // Notes next to the data are welcome; dotfiles belong to editors and git.
  return name.startsWith(".") || name.endsWith(".md");
}

/**
 * The files of the inventory in `dir` and the committee file; throws
 * InventoryError when there is no inventory at all. `dir` itself may be a
 * link; below it, and in the committee file's directory, nothing is followed.
 */
export async function planFiles(dir: string, committeeFile: string, sink: FindingSink): Promise<Plan> {
  const top = await entries(dir);
  if (top === undefined) {
    throw new InventoryError(`no inventory directory ${dir}`, { file: dir, hint: "pass --inventory DIR, the directory holding election.yaml" });
  }
  const byName = new Map(top.map((e) => [e.name, e]));
  if (!TOP_LEVEL.some((t) => byName.has(t.name)) && !byName.has("districts")) {
    const nested = await entries(join(dir, "inventory"));
    const hint =
      nested?.some((e) => e.name === "election.yaml") === true
        ? `did you mean --inventory ${join(dir, "inventory")}?`
        : "an inventory holds election.yaml, operators.yaml, servers.yaml and districts/*.yaml";
    throw new InventoryError(`no inventory in ${dir}`, { file: dir, hint });
  }
  const plan: Plan = { files: [], absent: [] };
  for (const t of TOP_LEVEL) {
    const e = byName.get(t.name);
    const path = join(dir, t.name);
    if (e !== undefined) take(sink, plan, t.role, path, e);
    else if (t.required) absent(sink, plan, t.role, path, `the inventory has no ${t.name}`);
  }
  const known = new Set([...TOP_LEVEL.map((t) => t.name), "districts"]);
  for (const e of top) {
    if (known.has(e.name) || isIgnored(e.name)) continue;
    unknown(sink, join(dir, e.name), e);
  }
  await planDistricts(join(dir, "districts"), byName.get("districts"), plan, sink);
  return withCommittee(plan, committeeFile, sink);
}

/**
 * A file to read, if it is one. A link is never followed: a pull request could point
 * districts/x.yaml at a file of the runner (a key, the passphrase), and findings quote
 * its lines into the pull request. A named pipe or a device could block or never end.
 */
function take(sink: FindingSink, plan: Plan, role: FileRole, path: string, e: Entry): void {
  if (e.kind === "file") plan.files.push({ role, path });
  else refuse(sink, plan, role, path, e, "file");
}

async function planDistricts(districtDir: string, districts: Entry | undefined, plan: Plan, sink: FindingSink): Promise<void> {
  if (districts !== undefined && districts.kind !== "directory") {
    refuse(sink, plan, "district", districtDir, districts, "directory");
    return;
  }
  let listed: Entry[];
  try {
    listed = districts === undefined ? [] : ((await entries(districtDir)) ?? []);
  } catch (error) {
    unreadable(sink, districtDir, error, ` (${UNCHECKED_WITHOUT.district})`);
    plan.absent.push({ role: "district", path: districtDir });
    return;
  }
  for (const e of listed) {
    if (isIgnored(e.name)) continue;
    if (e.name.endsWith(".yaml")) take(sink, plan, "district", join(districtDir, e.name), e);
    else unknown(sink, join(districtDir, e.name), e);
  }
  const any = plan.files.some((f) => f.role === "district") || plan.absent.some((f) => f.role === "district");
  if (!any) absent(sink, plan, "district", districtDir, "the inventory has no district files (districts/*.yaml)");
}

/**
 * The committee file must be a regular file in a real directory: `governance/`
 * belongs to the committee (CODEOWNERS), and a link there would make someone
 * else's keys approve waivers and sign-offs.
 */
async function withCommittee(plan: Plan, file: string, sink: FindingSink): Promise<Plan> {
  const folder = dirname(file);
  const dir = await lstatEntry(folder);
  const e = dir?.kind === "directory" ? await lstatEntry(file) : undefined;
  if (dir !== undefined && dir.kind !== "directory") refuse(sink, plan, "committee", folder, dir, "directory");
  else if (e === undefined) absent(sink, plan, "committee", file, `no committee file ${file}`);
  else if (e.kind === "file") plan.files.push({ role: "committee", path: file });
  else refuse(sink, plan, "committee", file, e, "file");
  return plan;
}

function absent(sink: FindingSink, plan: Plan, role: FileRole, path: string, message: string): void {
  plan.absent.push({ role, path });
  sink.add(
    "input.missing-file",
    { file: path, line: 1, col: 1 },
    "-",
    `${message}: ${UNCHECKED_WITHOUT[role]}`,
    `create ${basename(path)} (see docs/inventory.md)`,
  );
}

/**
 * Whether a directory entry (readdir's types are lstat's) is a regular file;
 * a link or a special file is reported and never opened. For readers of
 * other directories of data (the check catalog).
 */
export function isPlainFile(sink: FindingSink, path: string, e: Dirent, note: string): boolean {
  if (e.isFile()) return true;
  if (e.isSymbolicLink()) symlink(sink, path, ` (${note})`);
  else notAFile(sink, path, describe(e), "file", ` (${note})`);
  return false;
}

/** A link or a special file where a file (or the districts directory) is expected: reported, never read. */
function refuse(sink: FindingSink, plan: Plan, role: FileRole, path: string, e: Entry, expected: "file" | "directory"): void {
  plan.absent.push({ role, path });
  const without = ` (${UNCHECKED_WITHOUT[role]})`;
  if (e.kind === "link") symlink(sink, path, without);
  else notAFile(sink, path, e.what, expected, without);
}

/** `without`: what stays unchecked, as " (…)", or "". */
function symlink(sink: FindingSink, path: string, without: string): void {
  sink.add(
    "input.symlink",
    { file: path, line: 1, col: 1 },
    "-",
    `${path} is a symbolic link; links are not followed and it is not read${without}`,
    "replace the link with the file itself",
  );
}

function notAFile(sink: FindingSink, path: string, what: string, expected: "file" | "directory", without: string): void {
  const fix = expected === "file" ? "replace it with the YAML file it should be, or remove it" : `make ${basename(path)}/ a directory of YAML files`;
  sink.add(
    "input.not-a-file",
    { file: path, line: 1, col: 1 },
    "-",
    `${path} is ${what}, not a ${expected === "file" ? "regular file" : "directory"}; it is not read${without}`,
    fix,
  );
}

function unknown(sink: FindingSink, path: string, e: Entry): void {
  const name = basename(path);
  const hint = name.endsWith(".yml") ? `rename it to ${name.slice(0, -4)}.yaml` : `move it out of ${dirname(path)}; only .yaml files are read`;
  const what = e.kind === "file" ? "file" : e.kind === "directory" ? "directory" : e.what;
  sink.add("input.unknown-file", { file: path, line: 1, col: 1 }, "-", `${what} ${name} is not part of the inventory and is not read`, hint);
}

/**
 * Decode one file, or report why it cannot be an inventory file. `note`
 * says what stays unchecked without it, for the finding.
 */
export function readSource(path: string, sink: FindingSink, note?: string): SourceFile | undefined {
  const start: Location = { file: path, line: 1, col: 1 };
  const without = note === undefined ? "" : ` (${note})`;
  const bytes = readBounded(path, sink, without);
  if (bytes === undefined) return undefined;
  if (bytes.length === 0) return empty(sink, start, path, without);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    sink.add("input.encoding", start, "-", `${path} is UTF-16${without}`, "save it as UTF-8");
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    sink.add(
      "input.binary",
      byteLocation(path, bytes, nul),
      "-",
      `${path} holds a NUL byte: it is binary, not YAML${without}`,
      "replace it with the YAML file it should be",
    );
    return undefined;
  }
  if (!isUtf8(bytes)) {
    const at = firstInvalidUtf8(bytes);
    sink.add(
      "input.encoding",
      byteLocation(path, bytes, at),
      "-",
      `${path} is not valid UTF-8 (byte 0x${(bytes[at] ?? 0).toString(16)} at offset ${at})${without}`,
      "save it as UTF-8 (not Windows-1256)",
    );
    return undefined;
  }
  const decoded = bytes.toString("utf8");
  const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  if (text.trim() === "") return empty(sink, start, path, without);
  const source = new SourceFile(path, text);
  source.mayHoldBidi = mayHoldBidi(bytes);
  return source;
}

// O_NONBLOCK: opening a named pipe for reading must not wait for a writer; it
// is then refused by fstat. O_NOCTTY: a terminal opened by mistake does not
// become ours. Neither changes anything for a regular file.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * The bytes of a regular file of at most MAX_FILE_BYTES, read from the
 * descriptor that was checked; anything else is a finding.
 */
function readBounded(path: string, sink: FindingSink, without: string): Buffer | undefined {
  const start: Location = { file: path, line: 1, col: 1 };
  let fd: number;
  try {
    // Synchronous on purpose: a national run reads 1,200 small files one after
    // another, and the event loop has nothing else to do meanwhile.
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") symlink(sink, path, without);
    else if (code === "ENXIO") notAFile(sink, path, "a socket", "file", without);
    else if (code === "ENOENT")
      sink.add("input.missing-file", start, "-", `${path} does not exist${without}`, `create ${basename(path)}, or name the right file`);
    else unreadable(sink, path, error, without);
    return undefined;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      notAFile(sink, path, describe(stats), "file", without);
      return undefined;
    }
    if (stats.size > MAX_FILE_BYTES) return tooLarge(sink, start, path, stats.size, without);
    const bytes = readAtMost(fd, stats.size);
    return bytes ?? tooLarge(sink, start, path, MAX_FILE_BYTES + 1, without);
  } catch (error) {
    unreadable(sink, path, error, without);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function unreadable(sink: FindingSink, path: string, error: unknown, without: string): void {
  const cause = error instanceof InventoryError ? error.cause : error;
  const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
  sink.add(
    "input.unreadable",
    { file: path, line: 1, col: 1 },
    "-",
    `${path} cannot be read (${reason})${without}`,
    "make it readable by the user running amadegi",
  );
}

/** Up to MAX_FILE_BYTES from `fd`; undefined when there is more (the file grew past fstat's size). */
function readAtMost(fd: number, size: number): Buffer | undefined {
  const cap = MAX_FILE_BYTES + 1;
  let buffer = Buffer.allocUnsafe(Math.min(size + 1, cap));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (buffer.length >= cap) return undefined;
      const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, cap));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) return buffer.subarray(0, length);
    length += n;
  }
}

function tooLarge(sink: FindingSink, start: Location, path: string, size: number, without: string): undefined {
  sink.add(
    "input.too-large",
    start,
    "-",
    `${path} is ${(size / 1048576).toFixed(0)} MiB; the limit is ${MAX_FILE_BYTES / 1048576} MiB per file${without}`,
    "split it: one file per county under districts/",
  );
  return undefined;
}

function empty(sink: FindingSink, start: Location, path: string, without: string): undefined {
  sink.add("input.empty", start, "-", `${path} is empty${without}`, "write its top-level key, e.g. `waivers: []`, or delete the file");
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
