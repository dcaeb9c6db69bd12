// One rehearsal at a time: while another live process holds the state
// directory's lock, `up`, `down`, `devices start|stop`, a drill and `drill
// --restore` refuse, naming it, before they look at anything — above all, `up`
// never takes down the incomplete rehearsal another `up` is building. Once the
// holder is gone, its lock is taken over. No rehearsal is built here.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ToolError } from "../../src/lib/errors.ts";
import { lockPath } from "../../src/lib/lock.ts";
import { restoreLeftovers, runDrill } from "../../src/rehearsal/drill/index.ts";
import { namespaceNames, rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";
import { type Marker, markerPath } from "../../src/rehearsal/marker.ts";
import { startDevices, stopDevices } from "../../src/rehearsal/responders.ts";
import { run } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { pakdashtInventory } from "./fixture.ts";

const prefix = `amadegi-r-l${process.pid}-`;
const names = namespaceNames(prefix);
const root = process.getuid?.() === 0;

let base = "";
let inventory = "";
let state = "";
let holder: ChildProcess | undefined;
let holderPid = 0;
let lockText = "";
let n = 0;

/** The namespaces of this test's prefix, as `ip netns list` shows them. */
async function ourNamespaces(): Promise<string[]> {
  const listed = await run("ip", ["netns", "list"]);
  return listed.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

async function refusal(work: () => Promise<unknown>): Promise<ToolError> {
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

beforeAll(async () => {
  const fixture = await pakdashtInventory();
  base = fixture.root;
  inventory = fixture.inventory;
});

afterAll(async () => {
  for (const ns of await ourNamespaces()) await run("ip", ["netns", "del", ns]);
  await rm(base, { recursive: true, force: true });
});

// A live other process holds the lock: `sleep 30`, its pid written in the lock as an `up` would.
beforeEach(async () => {
  state = join(base, `state-${n++}`);
  await mkdir(state, { recursive: true, mode: 0o700 });
  holder = spawn("sleep", ["30"], { stdio: "ignore" });
  holderPid = holder.pid ?? 0;
  lockText = `${JSON.stringify({ pid: holderPid, command: "amadegi rehearsal up", startedAt: "2025-01-02T03:04:05.000Z" })}\n`;
  await writeFile(lockPath(state), lockText);
});

afterEach(() => {
  holder?.kill("SIGKILL");
});

describe("one rehearsal at a time", () => {
  it("rehearsal up refuses while another process holds the lock, naming it, and builds and tears down nothing", async () => {
    const error = await refusal(() => rehearsalUp({ inventory, stateDir: state, prefix }));
    expect(error.message).toBe(
      `the rehearsal in ${state} is busy: \`amadegi rehearsal up\` (pid ${holderPid}, since 2025-01-02T03:04:05.000Z) holds ${join(state, "lock")}`,
    );
    expect(error.hint).toMatch(/wait for it to finish/);
    expect(await ourNamespaces()).toEqual([]);
    expect(readdirSync(state)).toEqual(["lock"]);
    expect(readFileSync(lockPath(state), "utf8")).toBe(lockText);
  });

  it("down, devices start and stop, a drill and drill --restore refuse the same way, touching nothing", async () => {
    const attempts: [string, () => Promise<unknown>][] = [
      ["down", () => rehearsalDown({ stateDir: state, prefix })],
      ["devices start", () => startDevices({ inventory, stateDir: state })],
      ["devices stop", () => stopDevices({ stateDir: state })],
      [
        "drill",
        () =>
          runDrill({
            stateDir: state,
            stack: "rehearsal",
            stacksDir: join(repoRoot, "stacks"),
            checks: join(repoRoot, "checks"),
            scenario: "fiber-cut",
            share: 0.2,
            deadlineMs: 10_000,
          }),
      ],
      ["drill --restore", () => restoreLeftovers(state)],
    ];
    for (const [what, attempt] of attempts) {
      const error = await refusal(attempt);
      expect(error.message, what).toContain(`is busy: \`amadegi rehearsal up\` (pid ${holderPid},`);
    }
    expect(await ourNamespaces()).toEqual([]);
    expect(readdirSync(state)).toEqual(["lock"]);
    expect(readFileSync(lockPath(state), "utf8")).toBe(lockText);
  });

  it("once the holder is gone, its lock is taken over (and said so), and released after", async () => {
    const exited = new Promise((resolve) => holder?.once("exit", resolve));
    holder?.kill("SIGKILL");
    await exited;
    const lines: string[] = [];
    const down = await rehearsalDown({ stateDir: state, prefix, log: (l) => lines.push(l) });
    expect(down.leftovers).toEqual([]);
    expect(lines).toEqual([
      `taking over the stale lock ${lockPath(state)}: \`amadegi rehearsal up\` (pid ${holderPid}, since 2025-01-02T03:04:05.000Z) is gone`,
    ]);
    expect(existsSync(lockPath(state))).toBe(false);
  });

  it.skipIf(!root)("a half-built rehearsal whose up still runs is left alone by up and down; once that up is gone, down removes it", async () => {
    // What an `up` killed (or still running) after its first step leaves: one namespace, an incomplete marker.
    await run("ip", ["netns", "add", names.core]);
    const marker: Marker = {
      version: 1,
      prefix,
      stateDir: state,
      inventory,
      hash: "0".repeat(64),
      startedAt: "2025-01-02T03:04:05.000Z",
      upPid: holderPid,
      complete: false,
      steps: [{ kind: "netns", name: names.core }],
    };
    await writeFile(markerPath(state), `${JSON.stringify(marker)}\n`);
    for (const attempt of [() => rehearsalUp({ inventory, stateDir: state, prefix }), () => rehearsalDown({ stateDir: state, prefix })]) {
      expect((await refusal(attempt)).message).toContain(`(pid ${holderPid},`);
      expect(await ourNamespaces()).toEqual([names.core]);
    }
    const exited = new Promise((resolve) => holder?.once("exit", resolve));
    holder?.kill("SIGKILL");
    await exited;
    expect((await rehearsalDown({ stateDir: state, prefix })).leftovers).toEqual([]);
    expect(await ourNamespaces()).toEqual([]);
    expect(readdirSync(state)).toEqual([]);
  });
});
