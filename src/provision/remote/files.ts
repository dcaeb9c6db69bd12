import { contentHash } from "../../model/render/index.ts";
import { shellQuote as quote } from "../../toolchain/ssh.ts";
import { type Connection, reason, runRemote } from "./ssh.ts";

/**
 * The one thing provisioning does to a server: put files there (whole, by
 * rename, with their modes), then run the commands that (re)start what reads
 * them — and on removal stop those and delete the files. One SSH call each
 * way, the script on standard input. The hashes the server reports after
 * writing are what the stack records as provisioned (drift compares them with
 * what the server shows later).
 */
export interface FileSpec {
  /** Absolute, as production sees it; written at `root + path`. */
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export interface FilesInputs {
  readonly server: string;
  readonly role: string;
  readonly connection: Connection;
  readonly root: string;
  /** Which build of the server this is ("" in production; the rehearsal's generation): a new one re-provisions. */
  readonly epoch: string;
  readonly files: readonly FileSpec[];
  /** Run in order after the files are in place; each must exit 0. */
  readonly start: readonly string[];
  /** Run in order before the files are removed. */
  readonly stop: readonly string[];
}

export interface FilesState {
  readonly server: string;
  readonly role: string;
  readonly connection: Connection;
  readonly root: string;
  /** Absent in states recorded before epochs existed. */
  readonly epoch?: string;
  /** Path → sha256 hex, as the server reported it after writing. */
  readonly hashes: Readonly<Record<string, string>>;
  readonly start: readonly string[];
  readonly stop: readonly string[];
}

/** A file's content hash: the provisioned record's (src/model/render/provisioned.ts). */
export const sha256 = contentHash;

const MARK = "AMADEGI-HASHES";

function checkPath(server: string, path: string): void {
  if (!path.startsWith("/") || path.split("/").includes("..") || /[\n\0]/.test(path)) {
    throw new Error(`server ${server}: file path ${JSON.stringify(path)} must be absolute, without "..": a renderer produced it — fix the renderer`);
  }
}

/** The script that writes `files` under `root`, runs `start`, and prints the hashes of what is there. */
export function writeScript(inputs: Pick<FilesInputs, "server" | "root" | "files" | "start">, remove: readonly string[] = []): string {
  // Directories readable by the daemons' own users (each file gets its own mode below, before it is renamed into place).
  const lines = ["set -e", "umask 022"];
  for (const file of inputs.files) {
    checkPath(inputs.server, file.path);
    const target = quote(inputs.root + file.path);
    const slash = file.path.lastIndexOf("/");
    const temporary = quote(`${inputs.root}${file.path.slice(0, slash)}/.${file.path.slice(slash + 1)}.amadegi-new`);
    lines.push(
      `mkdir -p ${quote(inputs.root + (file.path.slice(0, slash) || "/"))}`,
      `base64 -d > ${temporary} <<'AMADEGI_EOF'`,
      ...(Buffer.from(file.content)
        .toString("base64")
        .match(/.{1,76}/g) ?? []),
      "AMADEGI_EOF",
      `chmod ${file.mode.toString(8)} ${temporary}`,
      `mv -f ${temporary} ${target}`,
    );
  }
  for (const path of remove) {
    checkPath(inputs.server, path);
    lines.push(`rm -f ${quote(inputs.root + path)}`);
  }
  inputs.start.forEach((command, i) => {
    lines.push(`( ${command}\n) || { echo "start command ${i + 1} failed" >&2; exit 3; }`);
  });
  lines.push(`echo ${MARK}`);
  if (inputs.files.length > 0)
    lines.push(`cd ${quote(inputs.root === "" ? "/" : inputs.root)} && sha256sum -- ${inputs.files.map((f) => quote(f.path.slice(1))).join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** Hashes of the files as `sha256sum` printed them after the marker. */
export function parseHashes(stdout: string): Record<string, string> {
  const at = stdout.lastIndexOf(`${MARK}\n`);
  const hashes: Record<string, string> = {};
  if (at < 0) return hashes;
  for (const line of stdout.slice(at + MARK.length + 1).split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) hashes[`/${match[2]}`] = match[1];
  }
  return hashes;
}

/** Write the files and start the services; the state to record. Throws naming the server and the reason. */
export async function applyFiles(inputs: FilesInputs, previous?: FilesState): Promise<FilesState> {
  const keep = new Set(inputs.files.map((f) => f.path));
  const remove = previous === undefined ? [] : Object.keys(previous.hashes).filter((p) => !keep.has(p));
  const result = await runRemote(inputs.server, inputs.connection, "sh -s", writeScript(inputs, remove));
  if (result.code !== 0) throw new Error(`server ${inputs.server} (${inputs.role}): provisioning failed: ${reason(result)}`);
  const hashes = parseHashes(result.stdout);
  for (const file of inputs.files) {
    if (hashes[file.path] !== sha256(file.content)) {
      throw new Error(
        `server ${inputs.server} (${inputs.role}): ${file.path} reads back as ${hashes[file.path]?.slice(0, 12) ?? "missing"}, ` +
          `not what was written (${sha256(file.content).slice(0, 12)})`,
      );
    }
  }
  return {
    server: inputs.server,
    role: inputs.role,
    connection: inputs.connection,
    root: inputs.root,
    epoch: inputs.epoch,
    hashes,
    start: inputs.start,
    stop: inputs.stop,
  };
}

/** Stop the services and delete the files. */
export async function removeFiles(state: FilesState): Promise<void> {
  const lines = ["set -e", ...state.stop.map((command, i) => `( ${command}\n) || { echo "stop command ${i + 1} failed" >&2; exit 3; }`)];
  for (const path of Object.keys(state.hashes)) {
    checkPath(state.server, path);
    lines.push(`rm -f ${quote(state.root + path)}`);
  }
  const result = await runRemote(state.server, state.connection, "sh -s", `${lines.join("\n")}\n`);
  if (result.code !== 0) throw new Error(`server ${state.server} (${state.role}): removal failed: ${reason(result)}`);
}
