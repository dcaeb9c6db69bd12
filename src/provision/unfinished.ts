// An `up` or `destroy` whose engine died part-way (a crash, SIGKILL, a reboot): how it is
// recognised, and what may run next (ADR 0019).
//
// The engine writes the state at the end of an operation (`amadegi:engine.checkpoints: end`):
// one that dies part-way saves nothing of it. It leaves two traces: the Pulumi file backend's
// lock (taken at the start, removed after the state is written) and amadegi's mark
// (`<state>/operations/<stack>.json`, written before the engine starts, naming the operation).
// A lock whose holder is gone is an unfinished operation; the mark says which, and only that
// operation may run next: it makes its steps again and finishes. Any other change would start
// from a state that lacks what the dead one did (a destroy after a dead up would leave its
// servers' new files; an up after a dead destroy would not make again what it removed).
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ProvisionError } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/fs.ts";
import { alive, startedBy } from "../lib/process.ts";
import { statePaths } from "../lib/state.ts";
import { CHECKPOINTS, type Checkpoints, FILE_BACKEND_ORGANIZATION, PROJECT } from "../model/index.ts";
import { CREDENTIALS_DIR } from "../toolchain/commandprovider/ssh.ts";
import { engineEnv } from "../toolchain/env.ts";

/** A change the engine records: what `amadegi up`, `destroy` and `devices publish` (an up of the CRL's resources) run. */
export interface Change {
  readonly operation: "up" | "destroy";
  /** `crl`: only the CRL's resources (`devices publish`); `all`: the whole stack. */
  readonly scope: "all" | "crl";
}

/** What amadegi writes before the engine starts a change, and removes once the engine has ended. */
export interface OperationMark extends Change {
  readonly version: 1;
  readonly stack: string;
  readonly checkpoints: Checkpoints;
  /** amadegi's process, and when it started the engine. */
  readonly pid: number;
  readonly startedAt: string;
}

/** A lock of the Pulumi file backend: the engine takes it for a change and removes it once the state is written. */
export interface EngineLock {
  readonly file: string;
  /** The engine's process, on `host`; undefined when the file does not say (unreadable, not a lock). */
  readonly pid?: number;
  readonly host?: string;
  readonly at?: string;
}

/** Whether a lock's holder runs: yes, no, or unknown (another machine, or a lock file that names none). */
export type Holder = "running" | "gone" | "unknown";

export interface Found {
  readonly locks: readonly { readonly lock: EngineLock; readonly holder: Holder }[];
  readonly mark?: OperationMark;
  /** Why the mark file could not be read, when there is one that is not a mark. */
  readonly markProblem?: string;
  readonly markFile: string;
}

export type Decision =
  | {
      readonly kind: "proceed";
      /** What to tell the person first (stderr), one line each. */
      readonly notes: readonly string[];
      /** Locks of gone holders to remove before the engine starts. */
      readonly takeOver: readonly EngineLock[];
      /** The mark of an operation that ended (its engine took its lock away): removed. */
      readonly clearMark: boolean;
    }
  | { readonly kind: "refuse"; readonly message: string; readonly hint: string; readonly file: string };

const COMMAND = (stack: string, change: Change): string =>
  change.operation === "destroy"
    ? `amadegi destroy --stack ${stack}`
    : change.scope === "crl"
      ? `amadegi devices publish --stack ${stack}`
      : `amadegi up --stack ${stack}`;

const NAMED = (change: Change): string => (change.operation === "destroy" ? "destroy" : change.scope === "crl" ? "devices publish" : "up");

/** Whether `next` finishes `unfinished`: the same operation, over at least as much of the stack. */
function finishes(next: Change, unfinished: Change): boolean {
  return next.operation === unfinished.operation && (next.scope === "all" || unfinished.scope === "crl");
}

function holderText(lock: EngineLock): string {
  const pid = lock.pid === undefined ? "an engine that the lock does not name" : `the engine pid ${lock.pid}`;
  return `${pid}${lock.host === undefined ? "" : ` on ${lock.host}`}${lock.at === undefined ? "" : `, since ${lock.at}`}`;
}

/**
 * What may run on `stack` next (`preview`, or a change), given its locks and mark. Pure: the
 * caller reads them (`findUnfinished`) and applies the decision (`beforeEngine`).
 */
export function decide(stack: string, next: Change | "preview", found: Found): Decision {
  const running = found.locks.find((l) => l.holder === "running");
  if (running !== undefined)
    return {
      kind: "refuse",
      message: `stack ${stack} is being changed now: ${holderText(running.lock)} holds its lock`,
      hint: "wait for that operation to end, then run this again",
      file: running.lock.file,
    };
  const unknown = found.locks.find((l) => l.holder === "unknown");
  if (unknown !== undefined)
    return {
      kind: "refuse",
      message: `stack ${stack} is locked by ${holderText(unknown.lock)}, and this machine cannot tell whether it still runs`,
      hint: `wait for it; once you know it has ended, remove ${unknown.lock.file} and run this again`,
      file: unknown.lock.file,
    };
  const gone = found.locks.map((l) => l.lock);
  const dead = gone[0];
  if (dead === undefined) return { kind: "proceed", notes: [], takeOver: [], clearMark: found.mark !== undefined || found.markProblem !== undefined };
  if (found.markProblem !== undefined)
    return {
      kind: "refuse",
      message:
        `an operation on stack ${stack} ended before its engine finished (${holderText(dead)}), ` +
        `and its mark ${found.markFile} is not readable: ${found.markProblem}`,
      hint:
        `find out what that operation was and finish it (amadegi up or destroy), or remove ${found.markFile} and ${dead.file} ` +
        "once you know the servers and the state agree",
      file: found.markFile,
    };
  const mark = found.mark;
  const who = mark === undefined ? "an operation" : `the ${NAMED(mark)} started at ${mark.startedAt}`;
  const ended = `${who} of stack ${stack} ended before its engine finished (${holderText(dead)})`;
  if (mark === undefined || mark.checkpoints === "every-step") {
    // The state holds every step that ended: any operation may follow, as after a plain `pulumi` that died.
    if (next === "preview") return { kind: "proceed", notes: [`${ended}; the state holds each step it saved`], takeOver: [], clearMark: false };
    return { kind: "proceed", notes: [`${ended}; the state holds each step it saved, and its lock is taken over`], takeOver: gone, clearMark: false };
  }
  if (next === "preview")
    return {
      kind: "proceed",
      notes: [
        `${ended}: the state has nothing it did (amadegi:engine.checkpoints end), so this preview compares with the state before it; ` +
          `finish it with ${COMMAND(stack, mark)}`,
      ],
      takeOver: [],
      clearMark: false,
    };
  if (!finishes(next, mark))
    return {
      kind: "refuse",
      message:
        `${ended}, and the state has nothing it did (amadegi:engine.checkpoints end): ` +
        `a ${NAMED(next)} now would start from a state the servers no longer match`,
      hint: `finish it first: ${COMMAND(stack, mark)} (it makes its steps again), then run this`,
      file: found.markFile,
    };
  return {
    kind: "proceed",
    notes: [`${ended}; the state has nothing it did, so this ${NAMED(next)} makes every step of it again (each can run twice: ADR 0019)`],
    takeOver: gone,
    clearMark: false,
  };
}

/** The file backend's directory, when the engine's backend is one (PULUMI_BACKEND_URL file://…). */
function backendDir(env: NodeJS.ProcessEnv): string | undefined {
  const url = engineEnv(env).PULUMI_BACKEND_URL ?? "";
  if (!url.startsWith("file://")) return undefined;
  return decodeURIComponent(url.slice("file://".length).split("?")[0] ?? "");
}

/** The stack's locks in the file backend (`.pulumi/locks/organization/amadegi/<stack>/*.json`). */
export function engineLocks(stack: string, env: NodeJS.ProcessEnv = process.env): EngineLock[] {
  const dir = backendDir(env);
  if (dir === undefined) return [];
  const locks = join(dir, ".pulumi", "locks", FILE_BACKEND_ORGANIZATION, PROJECT, stack);
  if (!existsSync(locks)) return [];
  return readdirSync(locks)
    .filter((name) => name.endsWith(".json"))
    .map((name) => parseLock(join(locks, name)));
}

/** A lock file's holder, as data: a field that is not what the engine writes is left out (the holder is then unknown). */
export function parseLock(file: string): EngineLock {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8").slice(0, 4096));
  } catch {
    return { file };
  }
  if (typeof value !== "object" || value === null) return { file };
  const v = value as Record<string, unknown>;
  const pid = typeof v.pid === "number" && Number.isInteger(v.pid) && v.pid > 0 ? v.pid : undefined;
  const host = typeof v.hostname === "string" && /^[\w.-]{1,253}$/.test(v.hostname) ? v.hostname : undefined;
  const at = typeof v.timestamp === "string" && !Number.isNaN(Date.parse(v.timestamp)) ? new Date(v.timestamp).toISOString() : undefined;
  return { file, ...(pid === undefined ? {} : { pid }), ...(host === undefined ? {} : { host }), ...(at === undefined ? {} : { at }) };
}

/**
 * Whether a lock's holder still runs. Only a lock taken on this machine can be judged: its pid
 * runs a `pulumi` process that started before the lock was taken (a pid the kernel gave to
 * another process since is not the holder).
 */
export function holderOf(lock: EngineLock, host = hostname()): Holder {
  if (lock.pid === undefined || lock.host === undefined || lock.host !== host) return "unknown";
  if (!alive(lock.pid)) return "gone";
  let command: string;
  try {
    command = readFileSync(`/proc/${lock.pid}/cmdline`, "latin1");
  } catch {
    return "gone";
  }
  if (!/(^|\/)pulumi\0/.test(command)) return "gone";
  if (!startedBy(lock.pid, lock.at === undefined ? undefined : Date.parse(lock.at))) return "gone";
  return "running";
}

export function markFile(stack: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(statePaths(env).operations, `${stack}.json`);
}

/** The stack's mark, read as data: anything but a mark amadegi wrote is a problem, named. */
export function readMark(file: string, stack: string): { readonly mark?: OperationMark; readonly problem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8").slice(0, 4096));
  } catch (error) {
    return { problem: error instanceof SyntaxError ? "not JSON" : ((error as NodeJS.ErrnoException).code ?? "unreadable") };
  }
  if (typeof value !== "object" || value === null) return { problem: "not a mark" };
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return { problem: "not a version 1 mark" };
  if (v.stack !== stack) return { problem: "a mark of another stack" };
  if (v.operation !== "up" && v.operation !== "destroy") return { problem: "operation is neither up nor destroy" };
  if (v.scope !== "all" && v.scope !== "crl") return { problem: "scope is neither all nor crl" };
  if (typeof v.checkpoints !== "string" || !(CHECKPOINTS as readonly string[]).includes(v.checkpoints))
    return { problem: "checkpoints is not end or every-step" };
  if (typeof v.pid !== "number" || typeof v.startedAt !== "string" || Number.isNaN(Date.parse(v.startedAt))) return { problem: "no pid or start time" };
  return {
    mark: {
      version: 1,
      stack,
      operation: v.operation,
      scope: v.scope,
      checkpoints: v.checkpoints as Checkpoints,
      pid: v.pid,
      startedAt: new Date(v.startedAt).toISOString(),
    },
  };
}

/** The stack's locks (each holder judged) and mark. */
export function findUnfinished(stack: string, env: NodeJS.ProcessEnv = process.env): Found {
  const file = markFile(stack, env);
  const read = existsSync(file) ? readMark(file, stack) : {};
  return {
    locks: engineLocks(stack, env).map((lock) => ({ lock, holder: holderOf(lock) })),
    ...(read.mark === undefined ? {} : { mark: read.mark }),
    ...(read.problem === undefined ? {} : { markProblem: read.problem }),
    markFile: file,
  };
}

/**
 * Before the engine runs on `stack`: refuse (ProvisionError) what must not run now, remove the
 * locks of gone holders that `next` may take over, and return the notes for the person.
 */
export function beforeEngine(stack: string, next: Change | "preview", env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const found = findUnfinished(stack, env);
  const decision = decide(stack, next, found);
  if (decision.kind === "refuse") throw new ProvisionError(decision.message, { hint: decision.hint, file: decision.file });
  for (const lock of decision.takeOver) {
    rmSync(lock.file, { force: true });
    // The file backend keeps each object's attributes beside it.
    rmSync(`${lock.file}.attrs`, { force: true });
  }
  if (decision.clearMark) rmSync(found.markFile, { force: true });
  const swept = sweepLeftCredentials();
  return swept === 0 ? decision.notes : [...decision.notes, `removed the SSH credentials of ${swept} run(s) a killed provider left in ${tmpdir()}`];
}

/** Written just before the engine starts `change` on `stack`. */
export function markOperation(stack: string, change: Change, checkpoints: Checkpoints, env: NodeJS.ProcessEnv = process.env): void {
  const file = markFile(stack, env);
  mkdirSync(statePaths(env).operations, { recursive: true, mode: 0o700 });
  const mark: OperationMark = {
    version: 1,
    stack,
    operation: change.operation,
    scope: change.scope,
    checkpoints,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(file, `${JSON.stringify(mark)}\n`, 0o600);
}

/**
 * After the engine ended, however: the mark is removed unless the engine left its lock behind
 * (it died before writing the state). Returns that lock, if it did.
 */
export function afterEngine(stack: string, env: NodeJS.ProcessEnv = process.env): EngineLock | undefined {
  const left = engineLocks(stack, env).find((lock) => holderOf(lock) !== "running");
  if (left === undefined) rmSync(markFile(stack, env), { force: true });
  // The engine is gone, but its provider, killed with it, may not have exited yet: its keys are
  // removed once it has (a kept directory's owner is waited for, a few seconds at most).
  else sweepLeftCredentials(tmpdir(), KILLED_PROVIDER_WAIT_MS);
  return left;
}

/**
 * How long, after a killed engine, the sweep waits for a provider that still runs to exit. A
 * provider killed with its engine was seen running when the sweep came right after the engine
 * (one fresh-clone test run in six), and its keys stayed until the next engine started.
 */
const KILLED_PROVIDER_WAIT_MS = 3000;
const SWEEP_POLL_MS = 50;

/**
 * Removes the SSH credentials a killed provider left. The stand-in provider writes each run's key
 * to `<tmp>/amadegi-ssh-<its pid>-XXXXXX` and removes it when the run ends; killed with its engine
 * (kill -9, the OOM killer, a cancelled CI job), it removes nothing, and each run in flight leaves a
 * copy of a server's private key (43 were found on a developer's machine, 7 or 8 per kill; ADR
 * 0019 lets an engine die). A directory of this user's goes when the pid it is named for no longer
 * runs, or runs a process started after the directory was written (the pid was given again).
 * With `waitMs`, a directory whose owner still runs is looked at again until it has exited or the
 * time is up. Returns how many it removed.
 */
export function sweepLeftCredentials(tmp = tmpdir(), waitMs = 0): number {
  const until = performance.now() + waitMs;
  let removed = 0;
  for (;;) {
    const pass = sweepOnce(tmp);
    removed += pass.removed;
    if (pass.kept === 0 || performance.now() >= until) return removed;
    // A synchronous pause: the CLI is ending the operation and does nothing else meanwhile.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SWEEP_POLL_MS);
  }
}

/** One look at `tmp`: the run directories removed, and those kept because their owner runs. */
function sweepOnce(tmp: string): { removed: number; kept: number } {
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return { removed: 0, kept: 0 };
  }
  let removed = 0;
  let kept = 0;
  for (const name of names) {
    const pid = Number(CREDENTIALS_DIR.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    const path = join(tmp, name);
    try {
      const info = lstatSync(path);
      if (!info.isDirectory() || info.uid !== process.getuid?.()) continue;
      // Its owner's, unless that pid now runs a process started after the directory was written.
      if (alive(pid) && startedBy(pid, info.mtimeMs)) {
        kept++;
        continue;
      }
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch {
      // Gone meanwhile: nothing to remove.
    }
  }
  return { removed, kept };
}

/** What a reader of the stack's outputs (drift) should know of an operation under way or unfinished; undefined when there is none. */
export function unfinishedNote(stack: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = findUnfinished(stack, env);
  if (found.locks.length === 0) return undefined;
  const decision = decide(stack, "preview", found);
  return decision.kind === "refuse" ? `${decision.message}: its outputs may not match its servers` : decision.notes[0];
}
