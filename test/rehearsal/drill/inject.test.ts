// Faults as kernel and process state, for real, inside namespaces this test
// makes: the drill's nftables table drops a link address and goes away again;
// a time server's chronyd (the ntp role's own commands) runs under faketime ten
// minutes ahead — seen by the project's NTP probe from inside the namespace,
// this machine's clock untouched — and is restarted normally; a stopped daemon
// comes back with its start command. Every undo can run twice.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../../src/model/index.ts";
import { renderServer, rooted } from "../../../src/model/render/index.ts";
import { applyAction, DRILL_TABLE, fakedProcesses, leftovers, undoAction } from "../../../src/rehearsal/drill/inject.ts";
import type { Action } from "../../../src/rehearsal/drill/scenarios.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { createNetns, type Netns, netnsAvailable } from "../../helpers/netns.ts";
import { pakdashtInventory } from "../fixture.ts";

const run = promisify(execFile);
const available =
  process.getuid?.() === 0 && (await netnsAvailable()) && existsSync("/usr/sbin/chronyd") && existsSync("/usr/bin/faketime") && existsSync("/usr/bin/fping");

// A documentation address (RFC 5737) and one of the rehearsal's plumbing range (which the ntp role allows), on the test namespace's lo only.
const LINK = "192.0.2.10";
const NTP = "198.18.250.123";

let ns: Netns;
let dir = "";
let fixtureRoot = "";

async function ping(address: string): Promise<boolean> {
  const result = await ns.exec(["fping", "-q", "-r", "1", "-t", "300", address]);
  return result.code === 0;
}

async function ntpOffset(): Promise<number | undefined> {
  const request = { kind: "ntp", target: { key: "t", check: "t", kind: "ntp", address: NTP, port: 123, params: {} }, allow: [`${NTP}/32`], timeoutMs: 2000 };
  const result = await ns.exec([process.execPath, join(repoRoot, "test/helpers/probe-child.ts"), JSON.stringify(request)]);
  const observation = JSON.parse(result.stdout) as { ok: boolean; values: { NTP_OFFSET?: number } };
  return observation.ok ? observation.values.NTP_OFFSET : undefined;
}

async function listening(port: number): Promise<boolean> {
  return (await ns.exec(["ss", "-Hlun", `src ${NTP}:${port}`])).stdout.trim() !== "";
}

describe.skipIf(!available)("drill faults in a namespace (root, nftables, chronyd, faketime)", () => {
  let chronyd: { name: string; start: string; stop: string };
  let root = "";

  beforeAll(async () => {
    ns = await createNetns("dinj");
    await ns.exec(["ip", "address", "add", `${LINK}/32`, "dev", "lo"]);
    await ns.exec(["ip", "address", "add", `${NTP}/32`, "dev", "lo"]);
    dir = await mkdtemp(join(tmpdir(), "amadegi-t-drill-inject-"));
    root = join(dir, "servers", "ntp-teh1-01", "root");
    const fixture = await pakdashtInventory();
    fixtureRoot = fixture.root;
    const inventory = (await loadInventory(fixture.inventory)).inventory;
    if (inventory === undefined) throw new Error("the sample does not load");
    const target = { root, environment: "rehearsal" as const, address: NTP };
    const [ntp] = renderServer(inventory, "ntp-teh1-01", target).filter((r) => r.role === "ntp");
    if (ntp === undefined) throw new Error("ntp-teh1-01 renders no ntp role");
    // What provisioning writes, written here.
    for (const file of ntp.files) {
      const path = rooted(target, file.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content, { mode: file.mode });
    }
    const [service] = ntp.services;
    if (service === undefined) throw new Error("no chronyd service");
    chronyd = { name: service.name, start: service.start, stop: service.stop };
    const started = await ns.exec(["sh", "-s"], chronyd.start);
    if (started.code !== 0) throw new Error(`chronyd did not start: ${started.stderr}`);
  }, 30_000);

  afterAll(async () => {
    if (chronyd !== undefined) await ns.exec(["sh", "-s"], chronyd.stop);
    await ns?.remove();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
    if (fixtureRoot !== "") await rm(fixtureRoot, { recursive: true, force: true });
  }, 30_000);

  it("a drop: the drill's own table in the namespace, the address silent; undone, it answers; undone twice, nothing to do", async () => {
    const action: Action = { kind: "drop", ns: ns.name, operator: "testop", addresses: [LINK] };
    expect(await ping(LINK)).toBe(true);
    await applyAction(action);
    expect((await ns.exec(["nft", "list", "table", "ip", DRILL_TABLE])).stdout).toContain(LINK);
    expect(await ping(LINK)).toBe(false);
    expect(await leftovers([action])).toEqual([`nftables table ${DRILL_TABLE} still in ${ns.name}`]);
    // Applied twice (a restarted drill): one table, replaced.
    await applyAction(action);
    expect((await ns.exec(["nft", "list", "tables"])).stdout.match(new RegExp(DRILL_TABLE, "g"))).toHaveLength(1);
    expect(await undoAction(action)).toEqual([]);
    expect(await ping(LINK)).toBe(true);
    expect(await leftovers([action])).toEqual([]);
    expect(await undoAction(action)).toEqual([]);
    // A namespace that is gone (rehearsal down) has nothing left to undo.
    expect(await undoAction({ ...action, ns: "amadegi-r-gone-op-x" })).toEqual([]);
  }, 30_000);

  it("a skew: chronyd under faketime serves time ten minutes ahead, found by its environment; undone, it is in step again", async () => {
    const before = await ntpOffset();
    expect(Math.abs(before ?? Infinity)).toBeLessThan(1_000);
    const action: Action = { kind: "skew", ns: ns.name, server: "ntp-teh1-01", root, offset: "+10m", service: chronyd };
    await applyAction(action);
    expect(fakedProcesses(`${root}/`)).toHaveLength(1);
    const skewed = await ntpOffset();
    expect(skewed).toBeGreaterThan(590_000);
    expect(skewed).toBeLessThan(610_000);
    // This machine's own clock did not move.
    expect(Math.abs(Date.parse((await run("date", ["-u", "+%Y-%m-%dT%H:%M:%SZ"])).stdout.trim()) - Date.now())).toBeLessThan(5_000);
    expect((await leftovers([action]))[0]).toMatch(/still runs under faketime/);
    expect(await undoAction(action)).toEqual([]);
    expect(fakedProcesses(`${root}/`)).toEqual([]);
    expect(Math.abs((await ntpOffset()) ?? Infinity)).toBeLessThan(1_000);
    expect(await undoAction(action)).toEqual([]);
  }, 60_000);

  it("a stop: the role's stop command silences the daemon; its start command brings it back", async () => {
    const action: Action = { kind: "stop", ns: ns.name, server: "ntp-teh1-01", services: [chronyd] };
    expect(await listening(123)).toBe(true);
    await applyAction(action);
    expect(await listening(123)).toBe(false);
    expect(await undoAction(action)).toEqual([]);
    expect(await listening(123)).toBe(true);
  }, 30_000);
});
