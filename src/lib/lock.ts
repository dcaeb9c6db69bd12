import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ToolError } from "./errors.ts";
import { alive } from "./process.ts";

/**
 * An advisory lock on a directory: one command at a time on what the
 * directory holds (a rehearsal's state). The lock is a file, `<dir>/lock`,
 * created with O_EXCL — of two commands starting at once exactly one creates
 * it — and holding who took it, so that the other can say who is busy. A
 * holder that died (a crash, SIGKILL, a reboot) cannot release it; its lock is
 * taken over, and the log says so. Only commands that take the lock respect
 * it: it keeps amadegi from tearing down what another amadegi is building,
 * not anybody else.
 */

export const LOCK_FILE = "lock";

/** Who holds a lock: the content of the lock file. */
export interface LockHolder {
  readonly pid: number;
  /** What it runs, for a person: `amadegi rehearsal up`. */
  readonly command: string;
  readonly startedAt: string;
  /** The kernel's boot id when it was taken: a lock from before a reboot is stale whatever its pid is now. */
  readonly bootId?: string;
}

export interface LockOptions {
  /** What the holder runs, written in the lock and named to whoever is refused. */
  readonly command: string;
  /** What the lock guards, for messages: `the rehearsal in /x` (default: the directory). */
  readonly subject?: string;
  /** Progress lines for a person (a stale lock taken over). */
  readonly log?: (line: string) => void;
  /**
   * How long an unreadable lock file is given before it counts as stale: a
   * holder writes its content right after creating the file, so an empty or
   * half-written one may be a lock being taken this instant (default 1 s).
   */
  readonly graceMs?: number;
}

export interface Lock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Remove the lock file if it is still this lock's; safe to call twice. */
  release(): void;
}

const DEFAULT_GRACE_MS = 1_000;
/** Taking over a stale lock takes milliseconds: a takeover guard older than this was left by a process that died inside one. */
const GUARD_STALE_MS = 10_000;
const ATTEMPTS = 20;

export function lockPath(dir: string): string {
  return join(dir, LOCK_FILE);
}

function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The holder a lock file names; undefined when its content is not one (empty, half-written, garbage). */
function parseHolder(text: string): LockHolder | undefined {
  try {
    const data = JSON.parse(text) as Partial<LockHolder> | null;
    if (typeof data !== "object" || data === null || !Number.isSafeInteger(data.pid) || (data.pid ?? 0) <= 0) return undefined;
    return {
      pid: data.pid as number,
      command: typeof data.command === "string" ? data.command : "?",
      startedAt: typeof data.startedAt === "string" ? data.startedAt : "?",
      ...(typeof data.bootId === "string" ? { bootId: data.bootId } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The lock file's text; undefined when there is none. */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    // A directory or an unreadable file in its place: nobody's lock; it is judged like garbage.
    return `(unreadable: ${errno(error) ?? String(error)})`;
  }
}

/** Who holds the lock of `dir`, if a readable lock is there (for status lines; whether it is alive is the caller's question). */
export function readLock(dir: string): LockHolder | undefined {
  const text = readText(lockPath(dir));
  return text === undefined ? undefined : parseHolder(text);
}

type Verdict =
  { readonly kind: "gone" } | { readonly kind: "live"; readonly holder: LockHolder } | { readonly kind: "stale"; readonly text: string; readonly why: string };

function judge(text: string, holder: LockHolder | undefined, boot: string | undefined): Verdict {
  if (holder === undefined) return { kind: "stale", text, why: "its content is not a lock holder" };
  const who = `\`${holder.command}\` (pid ${holder.pid}, since ${holder.startedAt})`;
  if (holder.bootId !== undefined && boot !== undefined && holder.bootId !== boot)
    return { kind: "stale", text, why: `${who} took it before this machine restarted` };
  if (!alive(holder.pid)) return { kind: "stale", text, why: `${who} is gone` };
  return { kind: "live", holder };
}

async function look(file: string, graceMs: number, boot: string | undefined): Promise<Verdict> {
  const text = readText(file);
  if (text === undefined) return { kind: "gone" };
  const holder = parseHolder(text);
  if (holder !== undefined) return judge(text, holder, boot);
  // Created but not written yet (or written by nobody we know): give a holder that is taking it now the time to write.
  await new Promise((r) => setTimeout(r, graceMs));
  const again = readText(file);
  if (again === undefined) return { kind: "gone" };
  return judge(again, parseHolder(again), boot);
}

/** Create the lock file, only if there is none; false when there is one. */
function create(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o644);
  } catch (error) {
    if (errno(error) === "EEXIST") return false;
    throw new ToolError(`cannot create the lock ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      file,
      hint: "the state directory must be writable (run as the user that owns it)",
      cause: error,
    });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Remove a stale lock, but only the one judged stale: two commands that both
 * found it so must not both remove "the" lock — the second would remove the
 * fresh one the first just took. Takeovers are serialised by a guard file
 * (O_EXCL too), and the lock is read again inside it.
 */
function takeOver(file: string, stale: string): boolean {
  const guard = `${file}.takeover`;
  if (!create(guard, `${process.pid}\n`)) {
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) unlinkSync(guard);
    } catch {
      // gone meanwhile: the other takeover finished
    }
    return false;
  }
  try {
    if (readText(file) !== stale) return false;
    unlinkSync(file);
    return true;
  } catch (error) {
    if (errno(error) === "ENOENT") return false;
    throw new ToolError(`cannot remove the stale lock ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      file,
      hint: `remove ${file} by hand (no command holds it), then run this again`,
      cause: error,
    });
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // already removed as stale by another: nothing to do
    }
  }
}

/**
 * Take the lock of `dir` (made if missing, mode 0700), or throw a ToolError
 * naming the holder: `the rehearsal in /x is busy: `amadegi rehearsal up`
 * (pid 123, since …) holds /x/lock`. A stale lock (its process gone, taken
 * before a reboot, or unreadable after `graceMs`) is taken over. The lock is
 * released by `release()` and, failing that, when this process exits; a
 * process killed outright leaves it, stale, to be taken over.
 */
export async function acquireLock(dir: string, options: LockOptions): Promise<Lock> {
  const file = lockPath(dir);
  const subject = options.subject ?? dir;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const boot = bootId();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ToolError(`cannot make ${dir} for its lock: ${error instanceof Error ? error.message : String(error)}`, {
      file: dir,
      hint: "the state directory must be writable (run as the user that owns it)",
      cause: error,
    });
  }
  const holder: LockHolder = {
    pid: process.pid,
    command: options.command,
    startedAt: new Date().toISOString(),
    ...(boot === undefined ? {} : { bootId: boot }),
  };
  const text = `${JSON.stringify(holder)}\n`;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (create(file, text)) return held(file, text, holder);
    const verdict = await look(file, graceMs, boot);
    if (verdict.kind === "live") {
      const h = verdict.holder;
      throw new ToolError(`${subject} is busy: \`${h.command}\` (pid ${h.pid}, since ${h.startedAt}) holds ${file}`, {
        hint:
          `wait for it to finish (ps -p ${h.pid}); if that process is gone, run this again: a dead holder's lock is taken over ` +
          `(should pid ${h.pid} now be another program, remove ${file})`,
      });
    }
    if (verdict.kind === "stale") {
      if (takeOver(file, verdict.text)) options.log?.(`taking over the stale lock ${file}: ${verdict.why}`);
      // Another command is taking it over, or took it, meanwhile: look again shortly.
      else await new Promise((r) => setTimeout(r, 20 + attempt * 10));
    }
    // "gone": released between our try and our look; try again at once.
  }
  throw new ToolError(`could not take the lock ${file}: it kept changing hands`, {
    file,
    hint: "other commands are starting on the same state directory: wait for them, then run this again",
  });
}

function held(file: string, text: string, holder: LockHolder): Lock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener("exit", release);
    // Only our own lock: never one a later command took over (this one judged stale by mistake).
    if (readText(file) !== text) return;
    try {
      unlinkSync(file);
    } catch {
      // removed already (by hand): nothing is held
    }
  };
  // An exit without release (a command that returned its code with the lock still held, an uncaught error) frees it too.
  process.on("exit", release);
  return { file, holder, release };
}

/** `work` under the lock of `dir`; released when it settles, whatever it did. */
export async function withLock<T>(dir: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(dir, options);
  try {
    return await work();
  } finally {
    lock.release();
  }
}
