// Integration, end to end: the real Pulumi engine provisions the rehearsal's
// central servers (real sshd per server) over SSH — the election PKI, nginx
// gateways with mTLS, unbound, chronyd, Prometheus — through `amadegi up`,
// which re-runs itself inside the rehearsal's probing namespace. Then a
// campaign sees them answer, a second `up` changes nothing, and `destroy`
// stops and removes everything it made.
//
// Every packet stays inside this test's own rehearsal (prefix amadegi-r-p<pid>-,
// its own state directory and Pulumi backend); the machine's own namespace
// never sends one to an inventory address.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../../src/lib/process.ts";
import { loadInventory } from "../../src/model/index.ts";
import type { ProvisionedServer } from "../../src/model/render/types.ts";
import { namespaceNames, rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";
import { writeRehearsalStack } from "../../src/rehearsal/stackfile.ts";
import { CREDENTIALS_DIR } from "../../src/toolchain/commandprovider/ssh.ts";
import { engineEnv } from "../../src/toolchain/env.ts";
import { execIn, listNetns } from "../../src/toolchain/netns.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { type CliRun, runCli } from "../helpers/cli.ts";
import { killEngine, rehearsalEngineMissing, throwawayEnv } from "../helpers/engine.ts";

const exec = promisify(execFile);
const skipped = await rehearsalEngineMissing();
const prefix = `amadegi-r-p${process.pid}-`;
const names = namespaceNames(prefix);
const stack = `test-prov-${process.pid}`;
const stackFile = join(repoRoot, "stacks", `Pulumi.${stack}.yaml`);
const ENGINE = 600_000;

let state = "";
let sandbox: Awaited<ReturnType<typeof throwawayEnv>> | undefined;

function amadegi(...args: string[]): Promise<CliRun> {
  return runCli(args, sandbox?.env);
}

async function listening(): Promise<string> {
  return (await exec("ip", ["netns", "exec", names.core, "ss", "-Hltnu"], { encoding: "utf8" })).stdout;
}

/** The stand-in provider's credential directories named for a pid that no longer runs. */
function leftCredentials(): string[] {
  return readdirSync(tmpdir()).filter((name) => {
    const pid = CREDENTIALS_DIR.exec(name)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
}

function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

describe.skipIf(skipped !== undefined)(`the stack provisions the rehearsal's servers${skipped === undefined ? "" : ` (skipped: ${skipped})`}`, () => {
  beforeAll(async () => {
    sandbox = await throwawayEnv();
    state = await mkdtemp(join(tmpdir(), "amadegi-t-prov-"));
    const up = await rehearsalUp({ inventory: join(repoRoot, "inventory"), stateDir: state, prefix });
    expect(up.status.problems).toEqual([]);
    // This test's stack stands in for the rehearsal's (the tracked settings, pointed at this rehearsal).
    await writeRehearsalStack({ stacksDir: join(repoRoot, "stacks"), stack, stateDir: state, prefix });
  }, 120_000);

  afterAll(async () => {
    await rm(stackFile, { force: true });
    if (state !== "") {
      const down = await rehearsalDown({ stateDir: state, prefix });
      expect(down.leftovers).toEqual([]);
      expect(listNetns().filter(names.owns)).toEqual([]);
      await rm(state, { recursive: true, force: true });
    }
    await sandbox?.cleanup();
  }, 120_000);

  let servers: Record<string, ProvisionedServer> = {};

  it(
    "up writes every server's files under its root and starts its services; the outputs record what the servers read back",
    async () => {
      const loaded = await loadInventory(join(repoRoot, "inventory"));
      const inventory = loaded.inventory;
      if (inventory === undefined) throw new Error("the sample inventory does not load");
      const up = await amadegi("up", "--stack", stack, "--yes", "--json");
      expect(up.code, up.stderr).toBe(0);
      const outputs = (JSON.parse(up.stdout) as { outputs: { servers: Record<string, ProvisionedServer> } }).outputs;
      servers = outputs.servers;
      expect(Object.keys(servers).sort()).toEqual(inventory.servers.map((s) => s.id).sort());

      // What the outputs say was written is what is on the server (its root), byte for byte.
      const gateway = servers["gw-teh1-01"];
      expect(gateway?.roles).toEqual(["gateway"]);
      const nginx = join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/nginx/nginx.conf");
      expect(gateway?.files["/etc/amadegi/nginx/nginx.conf"]).toBe(sha256(await readFile(nginx)));
      expect(gateway?.files["/etc/amadegi/tls/server.key"]).toBe(
        sha256(await readFile(join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/tls/server.key"))),
      );
      expect(gateway?.stations).toBeGreaterThan(0);
      // The monitor trusts the servers' certificates: the PKI's authority is written there too.
      expect(servers["mon-teh1-01"]?.files["/etc/amadegi/tls/servers-ca.crt"]).toBe(sha256(await readFile(join(state, "ca.crt"))));
      // The CA's private key never reaches a server or the outputs; in the state every key is ciphertext.
      expect(up.stdout).not.toMatch(/BEGIN (EC )?PRIVATE KEY/);
      const checkpoint = await readFile(join(sandbox?.dir ?? "", "pulumi", ".pulumi", "stacks", "amadegi", `${stack}.json`), "utf8");
      expect(checkpoint).not.toMatch(/PRIVATE KEY/);
      expect(checkpoint).toContain("ciphertext");

      // Each gateway's nginx on :443, each DNS server's unbound on :53, each time server's chronyd on :123 — on their own addresses.
      const ss = await listening();
      for (const server of inventory.servers) {
        if (server.roles.includes("gateway")) expect(ss, server.id).toContain(`${server.address}:443`);
        if (server.roles.includes("dns")) expect(ss, server.id).toContain(`${server.address}:53`);
        if (server.roles.includes("ntp")) expect(ss, server.id).toContain(`${server.address}:123`);
      }
      expect(existsSync(join(state, "ca.crt"))).toBe(true);
    },
    ENGINE,
  );

  it(
    "a second up changes nothing",
    async () => {
      const again = await amadegi("up", "--stack", stack, "--yes", "--json");
      expect(again.code, again.stderr).toBe(0);
      const changes = (JSON.parse(again.stdout) as { changes: Record<string, number> }).changes;
      expect(Object.keys(changes)).toEqual(["same"]);
    },
    ENGINE,
  );

  it(
    "a campaign sees the gateways serve HTTPS with the stack's certificate, DNS answer for the authentication service and the time servers in sync",
    async () => {
      const out = join(state, "results.jsonl");
      const check = await amadegi("check", "--stack", stack, "--select", "server=*", "--out", out, "--json");
      expect([0, 1], check.stderr).toContain(check.code);
      const lines = (await readFile(out, "utf8"))
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as { check?: string; server?: string; status?: string; detail?: string });
      const by = (check: string) => lines.filter((l) => l.check === check);
      expect(by("gateway-https").length).toBeGreaterThan(0);
      // Up, or degraded by a slow first answer on this shared machine (RTT); never down.
      for (const line of [...by("gateway-https"), ...by("dns-answers"), ...by("ntp-offset")])
        expect(["up", "degraded"], `${line.check} ${line.server}: ${line.detail}`).toContain(line.status);
    },
    ENGINE,
  );

  it(
    "drift: none after up; a file changed by hand on a server, an inventory the stack has not provisioned yet, and links a campaign never saw are each found",
    async () => {
      const results = join(state, "results.jsonl");
      const clean = await amadegi("drift", "--stack", stack, "--results", results, "--no-history", "--json");
      const first = JSON.parse(clean.stdout) as { counts: Record<string, number> };
      expect(first.counts["changed-on-server"], clean.stdout).toBe(0);
      expect(first.counts["not-provisioned"]).toBe(0);
      expect(first.counts.unreachable).toBe(0);
      // The campaign was of the servers only (--select server=*): every link is declared but never observed.
      expect(first.counts["never-observed"]).toBeGreaterThan(1000);
      expect(clean.code).toBe(1);

      // By hand, on gw-teh1-01, as an operator with a shell would: one line added to nginx.conf.
      const nginx = join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/nginx/nginx.conf");
      await writeFile(nginx, `${await readFile(nginx, "utf8")}# changed by hand\n`);
      // The inventory moves station PKD-0001 from gw-teh1-01 to gw-teh1-02; `up` has not run since.
      const copy = await mkdtemp(join(tmpdir(), "amadegi-t-drift-inv-"));
      try {
        await cp(join(repoRoot, "inventory"), join(copy, "inventory"), { recursive: true });
        await cp(join(repoRoot, "governance"), join(copy, "governance"), { recursive: true });
        const district = join(copy, "inventory", "districts", "pakdasht.yaml");
        const text = await readFile(district, "utf8");
        const moved = text.replace("gateways: { primary: gw-teh1-01, secondary: gw-krj-01 }", "gateways: { primary: gw-teh1-02, secondary: gw-krj-01 }");
        expect(moved).not.toBe(text);
        await writeFile(district, moved);
        const drift = await amadegi("drift", "--stack", stack, "--results", results, "--inventory", join(copy, "inventory"), "--no-history", "--json");
        expect(drift.code, drift.stderr).toBe(1);
        const report = JSON.parse(drift.stdout) as { items: { kind: string; object: string; subject?: string; detail: string }[] };
        const of = (kind: string) => report.items.filter((i) => i.kind === kind);
        expect(of("changed-on-server").map((i) => `${i.object} ${i.subject ?? ""}`)).toEqual(["gw-teh1-01 /etc/amadegi/nginx/nginx.conf"]);
        // Both gateways' station lists (links.json) differ from what was provisioned; so do the monitor's link targets
        // (each carries its station's primary gateway as a label, which the alerts name).
        expect([...new Set(of("not-provisioned").map((i) => i.object))].sort()).toEqual(["gw-teh1-01", "gw-teh1-02", "mon-teh1-01"]);
        expect(of("unreachable")).toEqual([]);
      } finally {
        await rm(copy, { recursive: true, force: true });
      }
    },
    ENGINE,
  );

  it(
    "drift: a server the stack provisioned that the inventory no longer declares, and one that stopped answering SSH, are each found",
    async () => {
      // What the stack recorded, plus a gateway it provisioned once and the inventory has since dropped.
      const provisioned = join(state, "provisioned.json");
      const old = servers["gw-teh1-01"];
      if (old === undefined) throw new Error("up recorded no gw-teh1-01");
      await writeFile(provisioned, JSON.stringify({ stack, servers: { ...servers, "gw-old-01": { ...old, address: "10.10.1.99" } } }));
      // dns-teh1-01's SSH refuses (a TCP reset inside the rehearsal's core, as a stopped sshd would).
      const table =
        "table inet amadegi_t_drift {\n  chain input {\n    type filter hook input priority 0;\n" +
        "    ip daddr 10.10.0.53 tcp dport 22 reject with tcp reset\n  }\n}\n";
      expect((await execIn(names.core, ["nft", "-f", "-"], { input: table })).code).toBe(0);
      try {
        const drift = await amadegi(
          "drift",
          "--stack",
          stack,
          "--results",
          join(state, "results.jsonl"),
          "--provisioned",
          provisioned,
          "--no-history",
          "--json",
        );
        expect(drift.code, drift.stderr).toBe(1);
        const report = JSON.parse(drift.stdout) as { items: { kind: string; object: string }[] };
        expect(report.items.filter((i) => i.kind === "not-declared").map((i) => i.object)).toEqual(["gw-old-01"]);
        expect(report.items.filter((i) => i.kind === "unreachable").map((i) => i.object)).toEqual(["dns-teh1-01"]);
      } finally {
        await execIn(names.core, ["nft", "delete", "table", "inet", "amadegi_t_drift"]);
      }
    },
    ENGINE,
  );

  it(
    "after the rehearsal is taken down and built again (its servers empty), up provisions them again",
    async () => {
      const down = await rehearsalDown({ stateDir: state, prefix });
      expect(down.leftovers).toEqual([]);
      const again = await rehearsalUp({ inventory: join(repoRoot, "inventory"), stateDir: state, prefix });
      expect(again.status.problems).toEqual([]);
      await writeRehearsalStack({ stacksDir: join(repoRoot, "stacks"), stack, stateDir: state, prefix });
      expect(await listening()).not.toMatch(/:443\b/);
      const up = await amadegi("up", "--stack", stack, "--yes", "--json");
      expect(up.code, up.stderr).toBe(0);
      const changes = (JSON.parse(up.stdout) as { changes: Record<string, number> }).changes;
      expect(changes.update ?? 0).toBeGreaterThanOrEqual(Object.keys(servers).length);
      const ss = await listening();
      expect(ss).toContain("10.10.1.11:443");
      expect(ss).toContain("10.10.0.53:53");
    },
    ENGINE,
  );

  it(
    "plain pulumi from the repository root, as a Pulumi user types it: preview changes nothing; destroy and up run inside the rehearsal's " +
      "namespace (ip netns exec); up and destroy from the machine's own namespace are refused before anything is sent",
    async () => {
      const env = { ...sandbox?.env, ...engineEnv(sandbox?.env) };
      const plain = (inNamespace: boolean, ...args: string[]): Promise<CliRun> => {
        const argv = [...args, "--stack", stack, "--non-interactive", "--color", "never"];
        const [file, all] = inNamespace ? ["ip", ["netns", "exec", names.probe, "pulumi", ...argv]] : ["pulumi", argv];
        return exec(file, all, { cwd: repoRoot, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
        );
      };
      // The program runs under the language host Pulumi's CLI finds (Pulumi's, or amadegi's stand-in): nothing to change.
      const preview = await plain(false, "preview", "--expect-no-changes");
      expect(preview.code, preview.stdout + preview.stderr).toBe(0);
      expect(preview.stdout).toMatch(/\d+ unchanged/);

      // A destroy runs from the state, without the program and its guard: the command provider refuses instead, before any packet.
      const outsideDestroy = await plain(false, "destroy", "--yes");
      expect(outsideDestroy.code).not.toBe(0);
      expect(outsideDestroy.stdout + outsideDestroy.stderr).toContain("from this machine's own network namespace: nothing was sent");
      expect(await listening()).toContain("10.10.1.11:443");

      const destroy = await plain(true, "destroy", "--yes");
      expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
      expect(await listening()).not.toMatch(/:443\b/);

      // From the machine's own namespace the servers' addresses are the real network's: the guard refuses before any packet.
      const outside = await plain(false, "up", "--yes");
      expect(outside.code).not.toBe(0);
      expect(outside.stdout + outside.stderr).toContain(`must run inside network namespace ${names.probe}`);
      expect(outside.stdout + outside.stderr).toContain("nothing was sent");
      expect(await listening()).not.toMatch(/:443\b/);

      const up = await plain(true, "up", "--yes");
      expect(up.code, up.stdout + up.stderr).toBe(0);
      const ss = await listening();
      expect(ss).toContain("10.10.1.11:443");
      expect(ss).toContain("10.10.0.53:53");
      const still = await plain(true, "preview", "--expect-no-changes");
      expect(still.code, still.stdout + still.stderr).toBe(0);
    },
    ENGINE,
  );

  it(
    "an up whose engine is killed part-way leaves its lock and nothing in the state; destroy is refused until an up finishes it; " +
      "that up makes every step again over what is already on the servers, and then nothing is left to change",
    async () => {
      const emptied = await amadegi("destroy", "--stack", stack, "--yes", "--json");
      expect(emptied.code, emptied.stderr).toBe(0);
      // The CLI as a person runs it; its engine killed (SIGKILL, the whole tree) once a few servers have their files.
      const child = spawn(process.execPath, [join(repoRoot, "bin/amadegi.js"), "up", "--stack", stack, "--yes"], { cwd: repoRoot, env: sandbox?.env });
      let created = 0;
      let killed = false;
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on("data", (chunk: Buffer) => {
        created += (chunk.toString().match(/ created \(/g) ?? []).length;
        if (created >= 8 && !killed) {
          killed = true;
          killEngine(stack, "up");
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(killed, stderr).toBe(true);
      expect(code).toBe(2);
      expect(stderr).toContain("its engine ended before writing the state (the state has nothing this up did); its lock is left");
      // Said plainly: not the engine's whole output again.
      expect(stderr).not.toContain("CommandError");
      // The provider died with its engine, with SSH runs in flight: none of their keys is left.
      expect(leftCredentials()).toEqual([]);

      const destroy = await amadegi("destroy", "--stack", stack, "--yes", "--json");
      expect(destroy.code).toBe(2);
      expect(destroy.stderr).toContain(`finish it first: amadegi up --stack ${stack}`);
      const preview = await amadegi("preview", "--stack", stack, "--json");
      expect(preview.code, preview.stderr).toBe(0);
      expect(preview.stderr).toContain("the state has nothing it did");

      const up = await amadegi("up", "--stack", stack, "--yes", "--json");
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain("makes every step of it again");
      const changes = (JSON.parse(up.stdout) as { changes: Record<string, number> }).changes;
      expect(Object.keys(changes)).toEqual(["create"]);
      const ss = await listening();
      expect(ss).toContain("10.10.1.11:443");
      expect(ss).toContain("10.10.0.53:53");
      const same = await amadegi("preview", "--stack", stack, "--expect-no-changes", "--json");
      expect(same.code, same.stderr).toBe(0);
      expect(same.stderr).not.toContain("ended before its engine finished");
    },
    ENGINE,
  );

  it(
    "destroy stops every service and removes every file it wrote",
    async () => {
      const destroy = await amadegi("destroy", "--stack", stack, "--yes", "--json");
      expect(destroy.code, destroy.stderr).toBe(0);
      const ss = await listening();
      expect(ss).not.toMatch(/:443\b/);
      expect(ss).not.toMatch(/10\.\d+\.\d+\.\d+:53\b/);
      expect(existsSync(join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/nginx/nginx.conf"))).toBe(false);
      expect(existsSync(join(state, "ca.crt"))).toBe(false);
    },
    ENGINE,
  );
});
