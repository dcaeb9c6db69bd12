/**
 * remote.Command's run and CopyToRemote's copy over OpenSSH (ssh.ts), with the semantics of
 * pulumi-command 1.2.1's provider/pkg/provider/remote/commandOutputs.go and copyController.go.
 * The Go provider copies over SFTP; this one runs one `sh` session per copy and writes each file
 * with a shell redirection, so, as SFTP's create does, it sets no file mode (new files get the
 * server's default, an overwritten file keeps its own) and needs `sh`, `base64` and `mkdir` there.
 */
import type { ChildProcess } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { CommandFailed, previousOutputEnv, trimOneNewline } from "./local.ts";
import { type Connection, connectionFailure, describe, remoteExitText, runSsh, shellQuote } from "./ssh.ts";
import { ASSET_SIG, isObject, SIG_KEY, type Value } from "./wire.ts";

export interface RemoteRunOptions {
  readonly command: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly stdin?: string;
  readonly previous?: { readonly stdout: string; readonly stderr: string };
  readonly addPreviousOutputInEnv?: boolean;
  readonly logging?: string;
  readonly onLine?: (line: string) => void;
  readonly running?: Set<ChildProcess>;
}

/** Run a command on the server; its stdout and stderr, each without one trailing newline. */
export async function runRemote(conn: Connection, options: RemoteRunOptions): Promise<{ stdout: string; stderr: string }> {
  const environment = { ...options.environment, ...previousOutputEnv(options) };
  const run = await runSsh(conn, options.command, {
    environment,
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    ...(options.logging === undefined ? {} : { logging: options.logging }),
    ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
    ...(options.running === undefined ? {} : { running: options.running }),
  });
  const refused = connectionFailure(conn, run);
  if (refused !== undefined) throw new CommandFailed(refused, run.code);
  if (run.code !== 0) {
    throw new CommandFailed(`${remoteExitText(run)}: running ${JSON.stringify(options.command)} on ${describe(conn)}:\n${run.both}`, run.code);
  }
  return { stdout: trimOneNewline(run.stdout), stderr: trimOneNewline(run.stderr) };
}

/** A here-document that writes `content` to the path in the shell variable `target`. */
function writeFileScript(target: string, content: Buffer): string {
  const lines = content.toString("base64").match(/.{1,76}/g) ?? [];
  // base64 never contains "_", so the delimiter cannot occur in the data.
  return `base64 -d > "${target}" <<'__AMADEGI_EOF__'\n${lines.join("\n")}\n__AMADEGI_EOF__\n`;
}

const PRELUDE = "set -e\nfail() { printf '%s\\n' \"$1\" >&2; exit 3; }\n";

async function walk(dir: string, rel = ""): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      dirs.push(path);
      const inner = await walk(dir, path);
      dirs.push(...inner.dirs);
      files.push(...inner.files);
    } else files.push(path);
  }
  return { dirs, files };
}

/**
 * The script that copies `source` to `remotePath`, as pulumi-command's sftpCopy/copyTextContent decide:
 * a text asset to a file path (never into a directory), parent directories made; a file into an
 * existing directory as dir/<name>, else to the path; a directory as remotePath/<name>, or its
 * contents into remotePath when the source path ends in "/".
 */
export async function copyScript(source: Value, remotePath: string): Promise<string> {
  if (!isObject(source)) throw new Error("the source is neither an asset nor an archive");
  let script = `${PRELUDE}dest=${shellQuote(remotePath)}\n`;
  if (source[SIG_KEY] === ASSET_SIG && typeof source.text === "string") {
    script += `if [ -d "$dest" ]; then fail "remote path $dest is a directory; when using a text asset, remotePath must be a file path"; fi\n`;
    script += `mkdir -p -- "$(dirname -- "$dest")"\n`;
    return script + writeFileScript("$dest", Buffer.from(source.text, "utf8"));
  }
  const path = typeof source.path === "string" ? source.path : undefined;
  if (path === undefined) throw new Error("the source has no path: it must be a FileAsset, a StringAsset or a FileArchive");
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new Error(`the source ${path} does not exist (relative paths are the program's directory's)`);
  if (!info.isDirectory()) {
    script += `if [ -d "$dest" ]; then dest="$dest"/${shellQuote(basename(path))}\n`;
    script += `elif [ ! -e "$dest" ]; then mkdir -p -- "$(dirname -- "$dest")"; fi\n`;
    return script + writeFileScript("$dest", await readFile(path));
  }
  script += `if [ ! -e "$dest" ]; then mkdir -p -- "$dest"; fi\n`;
  if (!path.endsWith("/")) {
    script += `dest="$dest"/${shellQuote(basename(path))}\n`;
    script += `if [ -e "$dest" ] && [ ! -d "$dest" ]; then fail "remote path $dest exists but is not a directory"; fi\n`;
    script += `[ -d "$dest" ] || mkdir -- "$dest"\n`;
  }
  script += `[ -d "$dest" ] || fail "remote path $dest exists but is not a directory"\n`;
  const tree = await walk(path);
  for (const dir of tree.dirs) {
    script += `d="$dest"/${shellQuote(dir)}\n`;
    script += `if [ -e "$d" ] && [ ! -d "$d" ]; then fail "remote path $d exists but is not a directory"; fi\n[ -d "$d" ] || mkdir -- "$d"\n`;
  }
  for (const file of tree.files) script += `f="$dest"/${shellQuote(file)}\n` + writeFileScript("$f", await readFile(join(path, file)));
  return script;
}

/** Copy the source to the server: one `sh` session reading the script on its stdin. */
export async function copyToRemote(conn: Connection, source: Value, remotePath: string, running?: Set<ChildProcess>): Promise<void> {
  const script = await copyScript(source, remotePath);
  const run = await runSsh(conn, "sh", { stdin: script, logging: "none", ...(running === undefined ? {} : { running }) });
  const refused = connectionFailure(conn, run);
  if (refused !== undefined) throw new CommandFailed(refused, run.code);
  if (run.code !== 0) {
    throw new CommandFailed(`copying to ${remotePath} on ${describe(conn)} failed (${remoteExitText(run)}): ${run.stderr.trim()}`, run.code);
  }
}
