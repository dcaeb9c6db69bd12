// The advisory lock of a directory: taken with O_EXCL, refused naming its
// holder while that process lives, taken over when it is dead (or the file is
// garbage, or from before a reboot), released by its holder only.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../../src/lib/errors.ts";
import { acquireLock, LOCK_FILE, lockPath, readLock, withLock } from "../../src/lib/lock.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let root = "";
let n = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "amadegi-t-lock-"));
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});
afterAll(async () => rm(root, { recursive: true, force: true }));

/** A fresh directory (not made yet: the lock makes it). */
function dir(): string {
  return join(root, `d${n++}`);
}

/** A live process that is not this one: `sleep 30`, killed after the test. */
function sleeper(): number {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(child);
  if (child.pid === undefined) throw new Error("could not start sleep");
  return child.pid;
}

/** The pid of a process that has exited (and been reaped): `node -e ""`. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  if (child.pid === undefined) throw new Error("could not start node");
  return child.pid;
}

function writeHolder(d: string, holder: object | string): void {
  writeFileSync(lockPath(d), typeof holder === "string" ? holder : `${JSON.stringify(holder)}\n`);
}

async function refusal(d: string, command = "amadegi rehearsal down"): Promise<ToolError> {
  const error = await acquireLock(d, { command, subject: `the rehearsal in ${d}`, graceMs: 50 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

describe("acquireLock", () => {
  it("makes the directory and a lock file naming this process, its command and when; release removes it", async () => {
    const d = dir();
    const lock = await acquireLock(d, { command: "amadegi rehearsal up" });
    expect(lock.file).toBe(join(d, LOCK_FILE));
    const content = JSON.parse(readFileSync(lock.file, "utf8")) as Record<string, unknown>;
    expect(content).toMatchObject({ pid: process.pid, command: "amadegi rehearsal up" });
    expect(Date.parse(String(content.startedAt))).toBeGreaterThan(Date.now() - 60_000);
    expect(readLock(d)).toMatchObject({ pid: process.pid, command: "amadegi rehearsal up" });
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    expect(readdirSync(d)).toEqual([]);
    lock.release();
    // Free again: the next one takes it.
    (await acquireLock(d, { command: "amadegi rehearsal down" })).release();
  });

  it("refuses while a live process holds it, naming the holder, its command, since when and the file; the lock stays as it was", async () => {
    const d = dir();
    const pid = sleeper();
    (await acquireLock(d, { command: "x" })).release();
    const holder = { pid, command: "amadegi rehearsal up", startedAt: "2025-01-02T03:04:05.000Z" };
    writeHolder(d, holder);
    const error = await refusal(d);
    expect(error.message).toBe(`the rehearsal in ${d} is busy: \`amadegi rehearsal up\` (pid ${pid}, since 2025-01-02T03:04:05.000Z) holds ${join(d, "lock")}`);
    expect(error.hint).toMatch(/wait for it to finish.*if that process is gone, run this again: a dead holder's lock is taken over/);
    expect(JSON.parse(readFileSync(lockPath(d), "utf8"))).toEqual(holder);
  });

  it("a second taker in the same process is refused too (not re-entrant: a nested take is a bug, not a wait)", async () => {
    const d = dir();
    const lock = await acquireLock(d, { command: "amadegi rehearsal up" });
    expect((await refusal(d)).message).toContain(`(pid ${process.pid},`);
    lock.release();
  });

  it("takes over the lock of a process that is gone, and says so", async () => {
    const d = dir();
    const pid = await deadPid();
    (await acquireLock(d, { command: "x" })).release();
    writeHolder(d, { pid, command: "amadegi rehearsal up", startedAt: "2025-01-02T03:04:05.000Z" });
    const lines: string[] = [];
    const lock = await acquireLock(d, { command: "amadegi rehearsal down", log: (l) => lines.push(l) });
    expect(lines).toEqual([`taking over the stale lock ${lockPath(d)}: \`amadegi rehearsal up\` (pid ${pid}, since 2025-01-02T03:04:05.000Z) is gone`]);
    expect(readLock(d)).toMatchObject({ pid: process.pid, command: "amadegi rehearsal down" });
    lock.release();
    expect(existsSync(lockPath(d))).toBe(false);
  });

  it("takes over a lock taken before this machine restarted, whatever now runs with its pid", async () => {
    const d = dir();
    (await acquireLock(d, { command: "x" })).release();
    writeHolder(d, {
      pid: sleeper(),
      command: "amadegi drill --scenario fiber-cut",
      startedAt: "2025-01-02T03:04:05.000Z",
      bootId: "00000000-0000-0000-0000-000000000000",
    });
    const lines: string[] = [];
    const lock = await acquireLock(d, { command: "amadegi rehearsal up", log: (l) => lines.push(l) });
    expect(lines.join("\n")).toMatch(/before this machine restarted/);
    lock.release();
  });

  it("takes over garbage after the grace period, but waits for a holder that is still writing its lock", async () => {
    const d = dir();
    (await acquireLock(d, { command: "x" })).release();
    writeHolder(d, "garbage\n");
    const lines: string[] = [];
    const lock = await acquireLock(d, { command: "amadegi rehearsal up", log: (l) => lines.push(l), graceMs: 50 });
    expect(lines).toEqual([`taking over the stale lock ${lockPath(d)}: its content is not a lock holder`]);
    lock.release();

    // Created, still empty: the holder writes it within the grace period, and is then alive.
    const pid = sleeper();
    writeHolder(d, "");
    setTimeout(() => writeHolder(d, { pid, command: "amadegi rehearsal devices start", startedAt: new Date().toISOString() }), 20);
    const error = await acquireLock(d, { command: "amadegi rehearsal up", graceMs: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).message).toContain(`\`amadegi rehearsal devices start\` (pid ${pid},`);
  });

  it("locks each directory on its own: two rehearsals' state directories do not wait for each other", async () => {
    const a = await acquireLock(dir(), { command: "amadegi rehearsal up" });
    const b = await acquireLock(dir(), { command: "amadegi rehearsal up" });
    expect(a.file).not.toBe(b.file);
    expect(existsSync(a.file) && existsSync(b.file)).toBe(true);
    a.release();
    b.release();
  });

  it("release leaves alone a lock that is not its own any more", async () => {
    const d = dir();
    const lock = await acquireLock(d, { command: "amadegi rehearsal up" });
    const other = { pid: sleeper(), command: "amadegi rehearsal down", startedAt: new Date().toISOString() };
    writeHolder(d, other);
    lock.release();
    expect(readLock(d)).toEqual(other);
  });
});

describe("withLock", () => {
  it("releases the lock when the work throws", async () => {
    const d = dir();
    await expect(withLock(d, { command: "amadegi rehearsal up" }, () => Promise.reject(new Error("half-way")))).rejects.toThrow("half-way");
    expect(existsSync(lockPath(d))).toBe(false);
  });
});

/** `node -e` with the lock module imported, in a process of its own. */
function node(script: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--input-type=module", "-e", `import { acquireLock } from ${JSON.stringify(join(repoRoot, "src/lib/lock.ts"))};\n${script}`, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("between processes", () => {
  it("a process that exits without releasing frees its lock", async () => {
    const d = dir();
    const result = await node(`await acquireLock(process.argv[1], { command: "amadegi rehearsal up" }); console.log("held");`, d);
    expect(result).toMatchObject({ code: 0, stdout: "held\n" });
    expect(existsSync(lockPath(d))).toBe(false);
  });

  it("of several taking over the same stale lock at once, exactly one gets it", async () => {
    const d = dir();
    (await acquireLock(d, { command: "x" })).release();
    writeHolder(d, { pid: await deadPid(), command: "amadegi rehearsal up", startedAt: new Date().toISOString() });
    const script =
      `try { await acquireLock(process.argv[1], { command: "racer", graceMs: 50 }); console.log("got"); await new Promise((r) => setTimeout(r, 1500)); } ` +
      `catch (e) { console.log(/is busy/.test(e.message) ? "busy" : e.message); }`;
    const results = await Promise.all(Array.from({ length: 5 }, () => node(script, d)));
    expect(results.map((r) => r.stderr)).toEqual(results.map(() => ""));
    expect(results.map((r) => r.stdout.trim()).sort()).toEqual(["busy", "busy", "busy", "busy", "got"]);
    expect(existsSync(lockPath(d))).toBe(false);
  });
});
