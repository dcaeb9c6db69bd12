// The spawner (src/probe/spawner.ts): the broker process starts the tools a
// campaign runs and gives back what a ChildProcess would; the direct spawner
// is the same contract in-process. Real processes (sh, cat, head, sleep).
import { getPriority } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTool } from "../../src/probe/probes/spawn.ts";
import { DEFAULT_MAX_STDERR, directSpawner, type Spawner, startSpawner, type ToolProcess } from "../../src/probe/spawner.ts";

let broker: Spawner;
beforeAll(async () => {
  broker = await startSpawner();
});
afterAll(async () => {
  await broker.close();
});

function finish(p: ToolProcess): Promise<{ out: string; err: string; code: number | null; signal: string | null }> {
  let out = "";
  let err = "";
  p.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  p.stderr.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    p.on("error", reject);
    p.on("close", (code: number | null, signal: string | null) => resolve({ out, err, code, signal }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each([
  ["broker", () => broker],
  ["direct", () => directSpawner],
])("the %s spawner", (_name, spawner) => {
  it("gives stdout, stderr and the exit code", async () => {
    const r = await finish(spawner().spawn(["sh", "-c", "echo out; echo err >&2; exit 3"]));
    expect(r).toMatchObject({ out: "out\n", err: "err\n", code: 3 });
  });

  it("writes the input to stdin and closes it", async () => {
    const r = await finish(spawner().spawn(["cat"], { input: "10.1.1.1\n10.1.1.2\n" }));
    expect(r.out).toBe("10.1.1.1\n10.1.1.2\n");
  });

  it("a tool that is not there is an error, not an exit", async () => {
    await expect(finish(spawner().spawn(["/nonexistent/amadegi-tool"]))).rejects.toThrow(/ENOENT/);
  });

  it("kill() stops the tool: it closes with the signal", async () => {
    const p = spawner().spawn(["sleep", "30"]);
    setTimeout(() => p.kill("SIGKILL"), 50);
    expect(await finish(p)).toMatchObject({ code: null, signal: "SIGKILL" });
  });

  it("starts a tool at the niceness asked for (its children too), never above the caller's; by default at the caller's", async () => {
    // The tool reads its niceness after a pause: the spawner sets it as soon as the tool has started.
    const niceness = ["sh", "-c", "sleep 0.3; cut -d' ' -f19 /proc/self/stat"];
    expect((await finish(spawner().spawn(niceness, { nice: 7 }))).out.trim()).toBe(String(Math.max(7, getPriority())));
    expect((await finish(spawner().spawn(niceness))).out.trim()).toBe(String(getPriority()));
  });

  it("runTool through it caps stdout and kills the tool when the attempt's signal fires", async () => {
    const capped = await runTool(["head", "-c", "100000", "/dev/zero"], AbortSignal.timeout(10_000), 1000, "coreutils", spawner());
    expect(capped).toMatchObject({ code: 0, killed: false });
    expect(capped.stdout.length).toBe(1000);
    const cut = await runTool(["sleep", "30"], AbortSignal.timeout(100), 1000, "coreutils", spawner());
    expect(cut.killed).toBe(true);
  });
});

describe("the broker", () => {
  it("does not let stdout past the cap cross over, and keeps stdout off when not asked", async () => {
    const r = await finish(broker.spawn(["head", "-c", "5000000", "/dev/zero"], { maxStdout: 10 }));
    expect(r.out.length).toBe(10);
    const quiet = broker.spawn(["echo", "x"], { stdout: false });
    expect(quiet.stdout).toBeNull();
    expect((await finish(quiet)).code).toBe(0);
  });

  it("keeps 64 KiB of stderr unless asked for more, and all of it when asked (fping's report is on stderr)", async () => {
    const loud = ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x >&2"];
    expect((await finish(broker.spawn(loud))).err.length).toBe(DEFAULT_MAX_STDERR);
    expect((await finish(broker.spawn(loud, { maxStderr: 300_000 }))).err.length).toBe(200_000);
    expect((await finish(broker.spawn(loud, { maxStderr: 1000 }))).err.length).toBe(1000);
  });

  it("closed, it ends and takes what it still runs with it; later spawns fail with the reason", async () => {
    const own = await startSpawner();
    const p = own.spawn(["sh", "-c", "echo $$; exec sleep 30"]);
    const pid = await new Promise<number>((resolve) => p.stdout?.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))));
    expect(alive(pid)).toBe(true);
    const ended = finish(p).catch((error: unknown) => error);
    await own.close();
    expect(await ended).toBeInstanceOf(Error);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
    await expect(finish(own.spawn(["true"]))).rejects.toThrow(/the spawner process ended/);
  });
});
