// An up or destroy whose engine died part-way (ADR 0019): what may run next, the file backend's
// locks and amadegi's marks read as data, a lock's holder judged from /proc, and the SSH credentials
// a killed provider left.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ProvisionError } from "../../src/lib/errors.ts";
import {
  afterEngine,
  beforeEngine,
  type Change,
  decide,
  type EngineLock,
  type Found,
  holderOf,
  markFile,
  markOperation,
  type OperationMark,
  parseLock,
  readMark,
  sweepLeftCredentials,
  unfinishedNote,
} from "../../src/provision/unfinished.ts";

const UP: Change = { operation: "up", scope: "all" };
const PUBLISH: Change = { operation: "up", scope: "crl" };
const DESTROY: Change = { operation: "destroy", scope: "all" };
const LOCK: EngineLock = { file: "/state/pulumi/.pulumi/locks/organization/amadegi/s1/a.json", pid: 4242, host: "prov-1", at: "2026-12-06T03:42:31.553Z" };

function mark(change: Change, checkpoints: OperationMark["checkpoints"] = "end"): OperationMark {
  return { version: 1, stack: "s1", ...change, checkpoints, pid: 99, startedAt: "2026-12-06T03:42:30.000Z" };
}

function found(holder: "running" | "gone" | "unknown" | undefined, m?: OperationMark, markProblem?: string): Found {
  return {
    locks: holder === undefined ? [] : [{ lock: LOCK, holder }],
    ...(m === undefined ? {} : { mark: m }),
    ...(markProblem === undefined ? {} : { markProblem }),
    markFile: "/state/operations/s1.json",
  };
}

describe("decide: what may run after an operation whose engine died", () => {
  it("nothing unfinished: anything runs; a mark left by an engine that ended (no lock) is removed", () => {
    expect(decide("s1", UP, found(undefined))).toEqual({ kind: "proceed", notes: [], takeOver: [], clearMark: false });
    expect(decide("s1", DESTROY, found(undefined, mark(UP)))).toMatchObject({ kind: "proceed", takeOver: [], clearMark: true });
  });

  it("a lock whose engine still runs, or runs on another machine, refuses every operation and names the lock", () => {
    const running = decide("s1", "preview", found("running", mark(UP)));
    expect(running).toMatchObject({ kind: "refuse", file: LOCK.file });
    expect(running.kind === "refuse" && running.message).toBe(
      "stack s1 is being changed now: the engine pid 4242 on prov-1, since 2026-12-06T03:42:31.553Z holds its lock",
    );
    const elsewhere = decide("s1", UP, found("unknown"));
    expect(elsewhere.kind === "refuse" && elsewhere.hint).toContain(`remove ${LOCK.file}`);
  });

  it("after an up that wrote nothing (checkpoints end): only an up of the whole stack finishes it; destroy and publish are refused", () => {
    const again = decide("s1", UP, found("gone", mark(UP)));
    expect(again).toMatchObject({ kind: "proceed", takeOver: [LOCK], clearMark: false });
    expect(again.kind === "proceed" && again.notes[0]).toMatch(
      /^the up started at 2026-12-06T03:42:30.000Z of stack s1 ended before its engine finished .*makes every step/,
    );
    const destroy = decide("s1", DESTROY, found("gone", mark(UP)));
    expect(destroy).toMatchObject({ kind: "refuse", file: "/state/operations/s1.json" });
    expect(destroy.kind === "refuse" && destroy.hint).toBe("finish it first: amadegi up --stack s1 (it makes its steps again), then run this");
    expect(decide("s1", PUBLISH, found("gone", mark(UP))).kind).toBe("refuse");
  });

  it("after a publish, a publish or a whole up finishes it; after a destroy, only a destroy", () => {
    expect(decide("s1", PUBLISH, found("gone", mark(PUBLISH))).kind).toBe("proceed");
    expect(decide("s1", UP, found("gone", mark(PUBLISH))).kind).toBe("proceed");
    const up = decide("s1", UP, found("gone", mark(DESTROY)));
    expect(up.kind === "refuse" && up.hint).toContain("amadegi destroy --stack s1");
    expect(decide("s1", DESTROY, found("gone", mark(DESTROY))).kind).toBe("proceed");
  });

  it("a preview runs, says what the state lacks and leaves the lock for the change that finishes it", () => {
    const preview = decide("s1", "preview", found("gone", mark(DESTROY)));
    expect(preview).toMatchObject({ kind: "proceed", takeOver: [] });
    expect(preview.kind === "proceed" && preview.notes[0]).toContain("finish it with amadegi destroy --stack s1");
  });

  it("with a state written at every step, or no mark of amadegi's (a plain pulumi died), any change takes the lock over", () => {
    expect(decide("s1", DESTROY, found("gone", mark(UP, "every-step")))).toMatchObject({ kind: "proceed", takeOver: [LOCK] });
    const plain = decide("s1", UP, found("gone"));
    expect(plain).toMatchObject({ kind: "proceed", takeOver: [LOCK] });
    expect(plain.kind === "proceed" && plain.notes[0]).toMatch(/^an operation of stack s1 ended .*the state holds each step it saved/);
  });

  it("a mark that is not one, beside a dead engine's lock, refuses: what was unfinished cannot be told", () => {
    const refused = decide("s1", UP, found("gone", undefined, "not JSON"));
    expect(refused).toMatchObject({ kind: "refuse", file: "/state/operations/s1.json" });
    expect(refused.kind === "refuse" && refused.message).toContain("is not readable: not JSON");
  });
});

describe("locks and marks are read as data", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a lock file keeps only the fields the engine writes, each checked; anything else is a holder no one can judge", () => {
    dir = mkdtempSync(join(tmpdir(), "amadegi-unfinished-"));
    const file = join(dir, "l.json");
    writeFileSync(file, JSON.stringify({ pid: 12, username: "root", hostname: "prov-1\nx", timestamp: "2026-12-06T03:42:31.553157035Z" }));
    expect(parseLock(file)).toEqual({ file, pid: 12, at: "2026-12-06T03:42:31.553Z" });
    expect(holderOf(parseLock(file))).toBe("unknown");
    writeFileSync(file, "{ not json");
    expect(parseLock(file)).toEqual({ file });
    writeFileSync(file, JSON.stringify({ pid: -1, hostname: "prov-1", timestamp: "yesterday" }));
    expect(parseLock(file)).toEqual({ file, host: "prov-1" });
  });

  it("a mark is amadegi's, of this stack, with every field known; else its problem is named", () => {
    dir = mkdtempSync(join(tmpdir(), "amadegi-unfinished-"));
    const file = join(dir, "s1.json");
    writeFileSync(file, JSON.stringify(mark(PUBLISH)));
    expect(readMark(file, "s1")).toEqual({ mark: mark(PUBLISH) });
    expect(readMark(file, "s2")).toEqual({ problem: "a mark of another stack" });
    writeFileSync(file, JSON.stringify({ ...mark(UP), operation: "refresh" }));
    expect(readMark(file, "s1")).toEqual({ problem: "operation is neither up nor destroy" });
    writeFileSync(file, JSON.stringify({ ...mark(UP), checkpoints: "never" }));
    expect(readMark(file, "s1")).toEqual({ problem: "checkpoints is not end or every-step" });
    expect(readMark(join(dir, "missing.json"), "s1")).toEqual({ problem: "ENOENT" });
  });
});

describe("a lock's holder, judged on this machine", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a pulumi process that started before its lock runs; one that started after it, or has ended, is not the holder", async () => {
    dir = mkdtempSync(join(tmpdir(), "amadegi-holder-"));
    // A stand-in named pulumi (its command line is /bin/sh …/pulumi), waiting on its stdin.
    const fake = join(dir, "pulumi");
    writeFileSync(fake, "#!/bin/sh\nread line\n");
    chmodSync(fake, 0o755);
    const child = spawn(fake, [], { stdio: ["pipe", "ignore", "ignore"] });
    const pid = child.pid ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const host = hostname();
    expect(holderOf({ file: "x", pid, host, at: new Date().toISOString() })).toBe("running");
    // The kernel gave this pid to a process that started after the lock was taken: not its holder.
    expect(holderOf({ file: "x", pid, host, at: new Date(Date.now() - 60_000).toISOString() })).toBe("gone");
    expect(holderOf({ file: "x", pid, host: `${host}-elsewhere`, at: new Date().toISOString() })).toBe("unknown");
    // This test's own process runs, but it is no pulumi.
    expect(holderOf({ file: "x", pid: process.pid, host, at: new Date().toISOString() })).toBe("gone");
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.stdin?.end("done\n");
    await exited;
    expect(holderOf({ file: "x", pid, host, at: new Date().toISOString() })).toBe("gone");
  });
});

describe("before and after the engine, in a state directory", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a dead engine's lock and amadegi's mark: the other operation is refused, the same one takes the lock over, and after it the mark goes", () => {
    dir = mkdtempSync(join(tmpdir(), "amadegi-state-"));
    // The state directory's own file backend, whatever this process's environment names.
    const env = Object.fromEntries(Object.entries({ ...process.env, AMADEGI_STATE_DIR: dir }).filter(([k]) => k !== "PULUMI_BACKEND_URL"));
    const locks = join(dir, "pulumi", ".pulumi", "locks", "organization", "amadegi", "s1");
    mkdirSync(locks, { recursive: true });
    const lock = join(locks, "0b1c.json");
    // pid 2³⁰ never runs here (Linux's pid_max is at most 2²²).
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 30, username: "root", hostname: hostname(), timestamp: new Date().toISOString() }));
    writeFileSync(`${lock}.attrs`, "{}");
    markOperation("s1", UP, "end", env);
    expect(unfinishedNote("s1", env)).toMatch(/^the up started at .* of stack s1 ended before its engine finished/);

    expect(() => beforeEngine("s1", DESTROY, env)).toThrow(ProvisionError);
    expect(existsSync(lock)).toBe(true);
    const notes = beforeEngine("s1", UP, env);
    expect(notes).toHaveLength(1);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(`${lock}.attrs`)).toBe(false);
    // The engine ran and ended (it took its lock away): the mark is removed, and nothing is unfinished.
    expect(existsSync(markFile("s1", env))).toBe(true);
    expect(afterEngine("s1", env)).toBeUndefined();
    expect(existsSync(markFile("s1", env))).toBe(false);
    expect(unfinishedNote("s1", env)).toBeUndefined();
    expect(beforeEngine("s1", DESTROY, env)).toEqual([]);
  });
});

describe("the SSH credentials a killed provider left", () => {
  const tmp = mkdtempSync(join(tmpdir(), "amadegi-sweep-"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });
  const sleeper = (): number => {
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(child);
    return child.pid as number;
  };
  const ended = async (): Promise<number> => {
    const child = spawn("true", { stdio: "ignore" });
    await new Promise((resolve) => child.on("exit", resolve));
    return child.pid as number;
  };
  /** A run's directory as the stand-in provider writes it, `ageS` seconds old. */
  const keys = (name: string, ageS = 0): string => {
    const dir = join(tmp, name);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "target_key"), "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    const at = Date.now() / 1000 - ageS;
    utimesSync(dir, at, at);
    return dir;
  };

  it("removes a dead provider's keys and those of a pid given again; keeps a live provider's and what is not a run's directory", async () => {
    const dead = keys(`amadegi-ssh-${await ended()}-aB3dE9`);
    const live = keys(`amadegi-ssh-${sleeper()}-xY7zQ1`);
    const own = keys(`amadegi-ssh-${process.pid}-Own123`);
    // Written an hour before the process that now has its pid started.
    const reused = keys(`amadegi-ssh-${sleeper()}-Reu5ed`, 3600);
    const unnamed = keys("amadegi-ssh-Ab12Cd");
    const elsewhere = keys("not-amadegi");
    symlinkSync(elsewhere, join(tmp, `amadegi-ssh-${await ended()}-Link01`));
    writeFileSync(join(tmp, `amadegi-ssh-${await ended()}-File01`), "x");

    expect(sweepLeftCredentials(tmp)).toBe(2);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(reused)).toBe(false);
    for (const kept of [live, own, unnamed, join(elsewhere, "target_key")]) expect(existsSync(kept)).toBe(true);
  });

  it("after a killed engine, waits for a provider that still runs: its keys go once it has exited, a live one's stay when the wait is up", () => {
    const own = mkdtempSync(join(tmpdir(), "amadegi-sweep-wait-"));
    try {
      const dying = sleeper();
      const lives = sleeper();
      mkdirSync(join(own, `amadegi-ssh-${dying}-Dying1`), { mode: 0o700 });
      mkdirSync(join(own, `amadegi-ssh-${lives}-Lives1`), { mode: 0o700 });
      // Killed from outside a moment after the sweep starts (this test's own loop waits with it).
      spawn("sh", ["-c", `sleep 0.3; kill -9 ${dying}`], { stdio: "ignore" });
      expect(sweepLeftCredentials(own)).toBe(0);
      expect(sweepLeftCredentials(own, 5000)).toBe(1);
      expect(readdirSync(own)).toEqual([`amadegi-ssh-${lives}-Lives1`]);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});
