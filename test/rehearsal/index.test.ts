// The rehearsal for real: namespaces, veths, nftables, sshd and fping on this
// machine, built from the Pakdasht sample. Every packet is sent from inside the
// rehearsal's probing namespace; the machine's own namespace gets nothing.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { readMarker } from "../../src/rehearsal/marker.ts";
import { type Plan, rehearsalDown, rehearsalStatus, rehearsalUp, layout, namespaceNames } from "../../src/rehearsal/index.ts";
import { cmdline, processesMentioning } from "../../src/rehearsal/processes.ts";
import { run } from "../../src/toolchain/inspect.ts";
import { execIn, listNetns } from "../../src/toolchain/netns.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { netnsAvailable } from "../helpers/netns.ts";
import { pakdashtInventory } from "./fixture.ts";

const available = process.getuid?.() === 0 && (await netnsAvailable());
const prefix = `amadegi-r-t${process.pid}-`;
const names = namespaceNames(prefix);
const CHILD = join(repoRoot, "test", "helpers", "rehearsal-child.ts");

let root = "";
let inventory = "";
let state = "";
const options = () => ({ inventory, stateDir: state, prefix });

/** fping from the probing namespace: replies per address (`-` is a lost one). */
async function ping(addresses: readonly string[], count: number): Promise<Map<string, (number | null)[]>> {
  const result = await execIn(names.probe, ["fping", "-q", "-C", String(count), "-p", "20", "-i", "1", "-t", "300", ...addresses], { timeoutMs: 60_000 });
  const replies = new Map<string, (number | null)[]>();
  for (const line of result.stderr.split("\n")) {
    const m = /^(\S+)\s*:\s*(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined)
      replies.set(
        m[1],
        m[2]
          .trim()
          .split(/\s+/)
          .map((v) => (v === "-" ? null : Number(v))),
      );
  }
  return replies;
}

function ours(): number[] {
  return processesMentioning(`${state}/`).filter((pid) => (cmdline(pid) ?? "").includes("/usr/sbin/sshd") || (cmdline(pid) ?? "").includes("supervise.ts"));
}

/** Nothing of the rehearsal is left: namespaces, processes, files (the kept keys aside). */
function expectNothingLeft(): void {
  expect(listNetns().filter(names.owns)).toEqual([]);
  expect(ours()).toEqual([]);
  // Kept by down: the servers' host keys and the devices' keys (with their overlay), each a stable identity.
  expect(existsSync(state) ? readdirSync(state).sort() : []).toEqual(["devices", "keys"]);
}

/** The machine's own namespace holds no inventory or plumbing address, route or rehearsal veth. */
async function expectRootNamespaceUntouched(plan: Plan): Promise<void> {
  const inventoryAddresses = new Set([...plan.servers.map((s) => s.address)]);
  const addrs = JSON.parse((await run("ip", ["-j", "address", "show"])).stdout) as { addr_info?: { local: string }[] }[];
  const locals = addrs.flatMap((a) => (a.addr_info ?? []).map((i) => i.local));
  expect(locals.filter((a) => inventoryAddresses.has(a) || a.startsWith("198.18.") || a.startsWith("198.19."))).toEqual([]);
  const routes = (await run("ip", ["route", "show", "table", "all"])).stdout;
  for (const block of [...plan.reachable.slice(0, 50), "198.18."]) expect(routes).not.toContain(block.replace(/\/32$/, ""));
  const veths = JSON.parse((await run("ip", ["-j", "-d", "link", "show", "type", "veth"])).stdout) as { ifalias?: string }[];
  const aliases = new Set(plan.veths.map((v) => v.alias));
  expect(veths.filter((v) => v.ifalias !== undefined && aliases.has(v.ifalias))).toEqual([]);
}

function pins(): string {
  return readFileSync(layout(state).pins, "utf8");
}

describe.skipIf(!available)("rehearsal on the Pakdasht sample (root, real namespaces, sshd, fping)", () => {
  let plan: Plan;
  let firstPins = "";
  let supervisorPid: number | undefined;

  beforeAll(async () => {
    const fixture = await pakdashtInventory();
    root = fixture.root;
    inventory = fixture.inventory;
    state = join(root, "state");
  });

  afterAll(async () => {
    await rehearsalDown({ stateDir: state, prefix }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it("up builds the namespaces, links and servers, and status is whole", async () => {
    const result = await rehearsalUp(options());
    plan = result.plan;
    expect(result.changed).toBe(true);
    expect(result.status.problems).toEqual([]);
    expect(result.status.whole).toBe(true);
    expect(listNetns().filter(names.owns)).toEqual(
      [names.core, `${prefix}op-irancell`, `${prefix}op-mci`, `${prefix}op-rightel`, `${prefix}op-tci`, names.probe].sort(),
    );
    expect(result.status.servers.every((s) => s.listening)).toBe(true);
    expect(result.status.servers).toHaveLength(plan.servers.length);
    const marker = readMarker(state).marker;
    expect(marker?.complete).toBe(true);
    expect(marker?.steps.filter((s) => s.kind === "netns")).toHaveLength(6);
    supervisorPid = result.status.supervisor?.pid;
    firstPins = pins();
    await expectRootNamespaceUntouched(plan);
  }, 60_000);

  it("from the probing namespace a live link answers, a blind spot does not, a weak link loses packets", async () => {
    const weak = plan.operators.flatMap((o) => o.weak)[0];
    const blind = plan.operators.flatMap((o) => o.blind)[0];
    expect(weak).toBeDefined();
    expect(blind?.link).toBe("PKD-0031-M");
    const live = "10.41.0.3"; // PKD-0001-F, tci fiber, live
    const server = plan.servers[0]?.address ?? "";
    const replies = await ping([live, server, blind?.address ?? "", weak?.address ?? ""], 100);
    expect(replies.get(live)?.every((r) => r !== null)).toBe(true);
    expect(replies.get(server)?.every((r) => r !== null)).toBe(true);
    expect(replies.get(blind?.address ?? "")?.every((r) => r === null)).toBe(true);
    const lost = replies.get(weak?.address ?? "")?.filter((r) => r === null).length ?? -1;
    // 100 pings at 14 % loss: 0 lost has a chance of about 3e-7, more than half of about 1e-30.
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(50);
  }, 60_000);

  it("a central server's sshd answers with the host key the pins overlay names", async () => {
    const server = plan.servers.find((s) => s.roles.includes("gateway"));
    const keyscan = await execIn(names.probe, ["ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", String(server?.port), server?.address ?? ""]);
    const seen = keyscan.stdout.trim().split(/\s+/).slice(1, 3).join(" ");
    expect(seen).toMatch(/^ssh-ed25519 AAAA/);
    expect(pins()).toContain(`hostKey: "${seen}"`);
    expect(pins()).toContain(`id: "${server?.id}"`);
    const kept = readFileSync(join(layout(state).keys, server?.id ?? "", "ssh_host_ed25519_key.pub"), "utf8");
    expect(kept.startsWith(seen)).toBe(true);
    // The control key logs in, and the session knows its server's root directory and has a home of
    // its own: the shell sshd runs sources $HOME/.bashrc, and the operator's is not the server's.
    const knownHosts = join(root, "known_hosts");
    await writeFile(knownHosts, `${server?.address} ${seen}\n`);
    const login = await execIn(names.probe, [
      "ssh",
      "-F",
      "/dev/null",
      "-i",
      layout(state).controlKey,
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      `root@${server?.address}`,
      "echo $AMADEGI_SERVER $AMADEGI_ROOT $HOME",
    ]);
    const dir = join(layout(state).servers, server?.id ?? "");
    expect(login.stdout.trim()).toBe(`${server?.id} ${join(dir, "root")} ${join(dir, "home")}`);
  }, 30_000);

  it("up twice is idempotent: nothing is rebuilt", async () => {
    const again = await rehearsalUp(options());
    expect(again.changed).toBe(false);
    expect(again.status.whole).toBe(true);
    expect(again.status.supervisor?.pid).toBe(supervisorPid);
  }, 30_000);

  it("amadegi check --stack rehearsal runs its campaign inside the probing namespace", async () => {
    const stacks = join(root, "stacks");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(stacks, { recursive: true });
    // The stack's pins overlay, relative to the state directory (AMADEGI_STATE_DIR: here the test's root, holding state/).
    const settings = readFileSync(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), "utf8")
      .replace("netns: amadegi-r-probe", `netns: ${names.probe}`)
      .replace("pins: rehearsal/pins.yaml", "pins: state/pins.yaml");
    expect(settings).toContain(`netns: ${names.probe}`);
    expect(settings).toContain("pins: state/pins.yaml");
    await writeFile(join(stacks, "Pulumi.rehearsal.yaml"), settings);
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: root, env: { ...process.env, AMADEGI_STATE_DIR: root } };
    const results = join(root, "results.jsonl");
    const code = await main(
      [
        "check",
        "--stacks",
        stacks,
        "--inventory",
        inventory,
        "--checks",
        join(repoRoot, "checks"),
        "--select",
        "check=server-icmp|server-ssh|link-icmp",
        "--deadline",
        "60s",
        "--out",
        results,
        "--json",
      ],
      io,
    );
    expect(err.join("\n")).not.toMatch(/error/i);
    expect(code).toBe(1);
    const report = JSON.parse(out.join("\n")) as { targets: number };
    expect(report.targets).toBeGreaterThan(plan.servers.length);
    const lines = readFileSync(results, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type?: string; key?: string; status?: string });
    const status = (key: string) => lines.find((l) => l.key === key)?.status;
    expect(status("link-icmp/PKD-0001/PKD-0001-F")).toBe("up");
    expect(status("link-icmp/PKD-0031/PKD-0031-M")).toBe("down");
    expect(lines.filter((l) => l.key?.startsWith("server-icmp/") === true).every((l) => l.status === "up")).toBe(true);
    // Every server's sshd answers with the host key of the overlay (not servers.yaml's, which are production's).
    const ssh = lines.filter((l) => l.key?.startsWith("server-ssh/") === true);
    expect(ssh).toHaveLength(plan.servers.length);
    expect(ssh.filter((l) => l.status !== "up")).toEqual([]);
    // A namespace that is not there: refused before anything runs.
    const none = await main(["check", "--stacks", stacks, "--inventory", inventory, "--netns", `${prefix}nothere`, "--out", join(root, "none.jsonl")], io);
    expect(none).toBe(2);
    expect(err.join("\n")).toContain("does not exist");
    expect(existsSync(join(root, "none.jsonl"))).toBe(false);
    // A stack naming an overlay that is not there: refused (exit 2, with the hint), never the inventory's pins.
    await writeFile(join(stacks, "Pulumi.rehearsal.yaml"), settings.replace("pins: state/pins.yaml", "pins: elsewhere/pins.yaml"));
    const missing = await main(
      [
        "check",
        "--stacks",
        stacks,
        "--inventory",
        inventory,
        "--checks",
        join(repoRoot, "checks"),
        "--select",
        "check=server-ssh",
        "--out",
        join(root, "missing.jsonl"),
      ],
      io,
    );
    expect(missing).toBe(2);
    expect(err.join("\n")).toContain("run `amadegi rehearsal up` first");
    expect(existsSync(join(root, "missing.jsonl"))).toBe(false);
  }, 120_000);

  it("down removes everything but the kept keys", async () => {
    const down = await rehearsalDown({ stateDir: state, prefix });
    expect(down.leftovers).toEqual([]);
    expect(down.namespaces).toHaveLength(6);
    expectNothingLeft();
    await expectRootNamespaceUntouched(plan);
  }, 30_000);

  it("a crash of up half-way (SIGKILL after the marker shows veths): down cleans everything", async () => {
    const child = spawn(process.execPath, [CHILD, inventory, state, prefix], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const until = Date.now() + 20_000;
    while (Date.now() < until && !(readMarker(state).marker?.steps.some((s) => s.kind === "veth") ?? false)) await new Promise((r) => setTimeout(r, 2));
    child.kill("SIGKILL");
    await exited;
    const marker = readMarker(state).marker;
    expect(marker?.complete).toBe(false);
    expect(listNetns().filter(names.owns).length).toBeGreaterThan(0);
    const status = await rehearsalStatus(plan, layout(state));
    expect(status.whole).toBe(false);
    expect(status.problems.join("\n")).toMatch(/did not finish/);
    expect((await rehearsalDown({ stateDir: state, prefix })).leftovers).toEqual([]);
    expectNothingLeft();
  }, 60_000);

  it("a crash after the servers started (processes running, no pins yet): down stops them; up after a crash rebuilds; host keys survive", async () => {
    const child = spawn(process.execPath, [CHILD, inventory, state, prefix, "sshd servers"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_, s) => resolve(s)));
    expect({ signal, stderr }).toEqual({ signal: "SIGKILL", stderr: "" });
    expect(ours().length).toBeGreaterThan(plan.servers.length);
    expect(readMarker(state).marker?.complete).toBe(false);
    expect(existsSync(layout(state).pins)).toBe(false);
    // up finds the wreck by its marker and rebuilds from scratch.
    const rebuilt = await rehearsalUp(options());
    expect(rebuilt.changed).toBe(true);
    expect(rebuilt.status.whole).toBe(true);
    // The same host keys and servers; only the generation is new (the servers start empty: a stack re-provisions them).
    const withoutGeneration = (text: string) => text.replace(/^generation: .*$/m, "");
    expect(withoutGeneration(pins())).toBe(withoutGeneration(firstPins));
    expect(/^generation: (.*)$/m.exec(pins())?.[1]).not.toBe(/^generation: (.*)$/m.exec(firstPins)?.[1]);
    const kill = spawn(process.execPath, [CHILD, inventory, state, prefix, "sshd servers"], { stdio: "ignore" });
    await new Promise((resolve) => kill.once("exit", resolve));
    expect((await rehearsalDown({ stateDir: state, prefix })).leftovers).toEqual([]);
    expectNothingLeft();
  }, 90_000);
});
