// The rendered services, started for real: a gateway (nginx and the check-in
// recorder), a dns server (unbound), an ntp server (chronyd) and a monitor
// (blackbox_exporter and Prometheus), each with its
// own rehearsal-shaped root, inside a network namespace this test creates
// with the servers' inventory addresses on its `lo` (nothing there can leave
// the namespace). Their `start` commands run as the stack would run them over
// SSH (`sh -c`), twice (the second reloads), then `stop`.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../../src/model/index.ts";
import {
  DNS_FILES,
  GATEWAY_FILES,
  type Listen,
  MONITOR_FILES,
  NTP_FILES,
  REHEARSAL_STRATUM,
  rooted,
  type RoleRender,
  type ServerTarget,
  type ServiceSpec,
  TLS_FILES,
} from "../../../src/model/render/index.ts";
import { daemon } from "../../../src/model/render/service.ts";
import { waitFor } from "../../helpers/checkin-recorder.ts";
import { createNetns, type Netns, netnsAvailable } from "../../helpers/netns.ts";
import { makePki, type Pki } from "../../helpers/pki.ts";
import { installTls, renderInto, run, sampleInventory, tempRoot } from "./helpers.ts";

const SERVERS = ["gw-teh1-01", "dns-teh1-01", "ntp-teh1-01", "mon-teh1-01"] as const;

interface Server {
  readonly id: string;
  readonly target: ServerTarget;
  readonly renders: RoleRender[];
  readonly services: readonly ServiceSpec[];
}

const usable = process.getuid?.() === 0 && (await netnsAvailable());
let inventory: Inventory;
let pki: Pki;
let netns: Netns;
const servers = new Map<string, Server>();

function server(id: string): Server {
  const s = servers.get(id);
  if (s === undefined) throw new Error(`no server ${id}`);
  return s;
}

/** argv inside the namespace, standard input closed; its exit code and output. */
function inNetns(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns.name, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A service's command, as the stack runs it over SSH: `sh -c`, inside the namespace. */
function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return inNetns(["sh", "-c", command]);
}

/** What listens inside the namespace. */
async function listening(): Promise<Listen[]> {
  const { stdout } = await inNetns(["ss", "-Hltun"]);
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const [proto = "", , , , local = ""] = line.trim().split(/\s+/);
      const colon = local.lastIndexOf(":");
      return { proto: proto as "tcp" | "udp", address: local.slice(0, colon), port: Number(local.slice(colon + 1)) };
    });
}

/** The pid in a service's pid file (under the server's root). */
async function pidOf(id: string, pidFile: string): Promise<number> {
  return Number((await readFile(rooted(server(id).target, pidFile), "utf8")).trim());
}

const PIDS: Record<string, [string, string]> = {
  nginx: ["gw-teh1-01", GATEWAY_FILES.nginxPid],
  "checkin-recorder": ["gw-teh1-01", GATEWAY_FILES.recorderPid],
  unbound: ["dns-teh1-01", DNS_FILES.pid],
  chronyd: ["ntp-teh1-01", NTP_FILES.pid],
  blackbox: ["mon-teh1-01", MONITOR_FILES.blackboxPid],
  prometheus: ["mon-teh1-01", MONITOR_FILES.prometheusPid],
};

async function pids(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, [id, file]] of Object.entries(PIDS)) out[name] = await pidOf(id, file);
  return out;
}

/** Runs a Node script inside the namespace; its standard output. */
async function nodeIn(script: string): Promise<string> {
  const result = await inNetns([process.execPath, "--input-type=module", "-e", script]);
  if (result.code !== 0) throw new Error(`node in ${netns.name}: ${result.stderr}`);
  return result.stdout;
}

async function startAll(): Promise<void> {
  for (const id of SERVERS) {
    for (const service of server(id).services) {
      const result = await sh(service.start);
      expect({ service: service.name, code: result.code, stderr: result.stderr }).toEqual({ service: service.name, code: 0, stderr: "" });
    }
  }
}

describe.skipIf(!usable)(`services started from the renders${usable ? "" : " (skipped: they need root and network namespaces: ip netns, nft)"}`, () => {
  beforeAll(async () => {
    inventory = await sampleInventory();
    pki = await makePki("gw-teh1-01");
    netns = await createNetns("render-s");
    for (const id of SERVERS) {
      const address = inventory.serversById.get(id)?.address ?? "";
      await run("ip", ["-n", netns.name, "addr", "add", `${address}/32`, "dev", "lo"]);
      const { renders, target } = await renderInto(inventory, id, await tempRoot(id));
      if (id === "gw-teh1-01" || id === "mon-teh1-01") await installTls(pki, target);
      servers.set(id, { id, target, renders, services: renders.flatMap((r) => r.services) });
    }
  });

  afterAll(async () => {
    if (netns === undefined) return;
    for (const s of servers.values()) for (const service of s.services) await sh(service.stop).catch(() => undefined);
    // Anything still in our namespace was started by this test.
    const { stdout } = await run("ip", ["netns", "pids", netns.name]).catch(() => ({ stdout: "" }));
    for (const pid of stdout.split("\n").filter((p) => p !== "")) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
    await netns.remove();
    await pki.remove();
    for (const s of servers.values()) await rm(dirname(s.target.root), { recursive: true, force: true });
  });

  it("start brings each service up listening exactly where `listens` says, its command line naming its root", { timeout: 60_000 }, async () => {
    await startAll();
    const seen = await listening();
    for (const id of SERVERS) {
      for (const service of server(id).services)
        for (const l of service.listens) expect(seen, `${service.name} ${l.proto} ${l.address}:${l.port}`).toContainEqual(l);
    }
    const declared = SERVERS.flatMap((id) => server(id).services.flatMap((s) => s.listens));
    // Nothing else listens: no wildcard sockets, no command ports.
    expect(seen.filter((l) => !declared.some((d) => d.proto === l.proto && d.address === l.address && d.port === l.port))).toEqual([]);
    for (const [name, pid] of Object.entries(await pids())) {
      const [id] = PIDS[name] ?? [""];
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).replace(/\0/g, " ");
      expect(cmdline, name).toContain(server(id).target.root);
    }
  });

  it("start again reloads: exit 0, the same processes", { timeout: 60_000 }, async () => {
    const before = await pids();
    await startAll();
    expect(await pids()).toEqual(before);
    // A changed links.json is a reload too (the recorder re-reads it on SIGHUP), not a restart.
    const gw = server("gw-teh1-01");
    const links = rooted(gw.target, GATEWAY_FILES.links);
    await writeFile(links, `${(await readFile(links, "utf8")).replace(/^\{\n/, '{\n"10.10.1.11": {"station":"PKD-0001","link":"PKD-0001-F"},\n')}`);
    const recorder = gw.services.find((s) => s.name === "checkin-recorder");
    expect((await sh(recorder?.start ?? "false")).code).toBe(0);
    expect(await pids()).toEqual(before);
  });

  it("refresh (a new CRL between ups) has a running nginx re-read its files: checked, then a HUP, the same master", { timeout: 30_000 }, async () => {
    const gw = server("gw-teh1-01");
    const nginx = gw.services.find((s) => s.name === "nginx");
    expect(nginx?.refresh).toBeDefined();
    const before = await pids();
    // A HUP has the master start new workers and retire the old: its children change, it does not.
    const workers = () => readFileSync(`/proc/${before.nginx}/task/${before.nginx}/children`, "utf8").trim().split(/\s+/).sort().join(" ");
    const old = workers();
    const result = await sh(nginx?.refresh ?? "false");
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: "" });
    await waitFor(
      "nginx's new workers after the reload",
      () =>
        workers() !== "" &&
        !workers()
          .split(" ")
          .some((w) => old.split(" ").includes(w)),
    );
    expect(await pids()).toEqual(before);
    // A broken CRL is refused by the check before any signal: exit 1, one line, the running nginx untouched.
    const crl = rooted(gw.target, TLS_FILES.devicesCrl);
    const good = await readFile(crl, "utf8");
    await writeFile(crl, "not a CRL\n");
    const broken = await sh(nginx?.refresh ?? "false");
    await writeFile(crl, good);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^nginx: configuration check failed/);
    expect(await pids()).toEqual(before);
  });

  it("dns answers auth.election.ir with the auth servers' addresses, and refuses the rest of the world", async () => {
    const script = `
      import { Resolver } from "node:dns/promises";
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers(["10.10.0.53"]);
      const auth = await r.resolve4("auth.election.ir");
      const gw = await r.resolve4("gw-teh1-01.gw.election.ir");
      const outside = await r.resolve4("example.com").then(() => "answered", (e) => e.code);
      console.log(JSON.stringify({ auth: auth.sort(), gw, outside }));`;
    const answer = JSON.parse(await nodeIn(script)) as { auth: string[]; gw: string[]; outside: string };
    expect(answer.auth).toEqual(
      inventory.servers
        .filter((s) => s.roles.includes("auth"))
        .map((s) => s.address)
        .sort(),
    );
    expect(answer.gw).toEqual(["10.10.1.11"]);
    expect(answer.outside).toBe("EREFUSED");
  });

  it("the gateway serves /health without a client certificate, and guards /checkin", { timeout: 30_000 }, async () => {
    const script = `
      import { request } from "node:https";
      import { readFileSync } from "node:fs";
      const ca = readFileSync(${JSON.stringify(pki.caFile)});
      function ask(path, method, extra = {}) {
        return new Promise((resolve, reject) => {
          const req = request({ host: "10.10.1.11", port: 443, path, method, ca, servername: "gw-teh1-01", agent: false, ...extra }, (res) => {
            const tls = res.socket.getProtocol();
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode, body, tls }));
          });
          req.on("error", reject);
          req.end();
        });
      }
      const health = await ask("/health", "GET");
      const anonymous = await ask("/checkin", "POST");
      const device = await ask("/checkin", "POST", {
        cert: readFileSync(${JSON.stringify(pki.client.certFile)}),
        key: readFileSync(${JSON.stringify(pki.client.keyFile)}),
        headers: { "X-Amadegi-Station": "PKD-0001", "X-Amadegi-Link": "PKD-0001-F", "X-Client-Cert": "forged" },
      });
      const old = await ask("/health", "GET", { maxVersion: "TLSv1.1", minVersion: "TLSv1" }).then((r) => "answered " + r.tls, (e) => e.code ?? e.message);
      console.log(JSON.stringify({ health, anonymous: anonymous.status, device: device.status, old }));`;
    const out = JSON.parse(await nodeIn(script)) as { health: { status: number; body: string; tls: string }; anonymous: number; device: number; old: string };
    expect(out.health).toMatchObject({ status: 200, body: "ok\n" });
    expect(["TLSv1.2", "TLSv1.3"]).toContain(out.health.tls);
    expect(out.anonymous).toBe(403);
    expect(out.device).toBe(204);
    expect(out.old).not.toMatch(/^answered/);
    // The recorder wrote what nginx handed over (nginx's certificate, not the forged header).
    const log = (await readFile(rooted(server("gw-teh1-01").target, GATEWAY_FILES.checkinLog), "utf8")).trim().split("\n");
    const record = JSON.parse(log.at(-1) ?? "{}") as Record<string, unknown>;
    expect(record).toMatchObject({ serial: "DEV-0001", station: "PKD-0001", link: "PKD-0001-F", gateway: "gw-teh1-01" });
    // And its table, at the rendered path, holds it as the link's latest check-in (written within a second).
    const tableFile = rooted(server("gw-teh1-01").target, GATEWAY_FILES.checkinTable);
    const latest = () => (existsSync(tableFile) ? (JSON.parse(readFileSync(tableFile, "utf8")) as { links: { checkin?: { time: string } }[] }) : undefined);
    await waitFor("the recorder's table", () => latest()?.links.some((l) => l.checkin?.time === record.time) === true);
    expect(latest()).toMatchObject({ v: 1, kind: "checkin-table", gateway: "gw-teh1-01" });
  });

  it("chronyd answers an NTP request at the rehearsal's stratum", { timeout: 30_000 }, async () => {
    const script = `
      import { createSocket } from "node:dgram";
      import { randomFillSync } from "node:crypto";
      const ask = () => new Promise((resolve) => {
        const s = createSocket("udp4");
        const packet = Buffer.alloc(48);
        packet[0] = 0x23; // LI 0, version 4, mode 3 (client)
        randomFillSync(packet, 40, 8); // a transmit timestamp, as a client sends
        const timer = setTimeout(() => { s.close(); resolve(null); }, 1000);
        s.on("message", (m) => { clearTimeout(timer); s.close(); resolve({ leap: m[0] >> 6, mode: m[0] & 7, stratum: m[1] }); });
        s.send(packet, 123, "10.10.0.123");
      });
      let answer = null;
      for (let i = 0; i < 10 && (answer === null || answer.leap === 3); i++) answer = await ask();
      console.log(JSON.stringify(answer));`;
    expect(JSON.parse(await nodeIn(script))).toEqual({ leap: 0, mode: 4, stratum: REHEARSAL_STRATUM });
  });

  it("start with a broken configuration fails with one line and starts nothing", async () => {
    const dns = server("dns-teh1-01");
    const unbound = dns.services[0];
    if (unbound === undefined) throw new Error("no unbound service");
    expect((await sh(unbound.stop)).code).toBe(0);
    const conf = rooted(dns.target, DNS_FILES.conf);
    const good = await readFile(conf, "utf8");
    await writeFile(conf, `${good}server:\n    no-such-option: yes\n`);
    const result = await sh(unbound.start);
    await writeFile(conf, good);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^unbound: configuration check failed: .*no-such-option.*\n$/);
    expect(result.stderr.split("\n")).toHaveLength(2);
    expect((await listening()).filter((l) => l.port === 53)).toEqual([]);
    expect((await sh(unbound.start)).code).toBe(0);
  });

  it("stop leaves nothing running, and a second stop is harmless", { timeout: 60_000 }, async () => {
    for (const id of [...SERVERS].reverse()) {
      for (const service of [...server(id).services].reverse()) {
        const result = await sh(service.stop);
        expect({ service: service.name, code: result.code, stderr: result.stderr }).toEqual({ service: service.name, code: 0, stderr: "" });
      }
    }
    const { stdout } = await run("ip", ["netns", "pids", netns.name]);
    expect(stdout.trim()).toBe("");
    expect(await listening()).toEqual([]);
    for (const id of SERVERS) for (const service of server(id).services) expect((await sh(service.stop)).code).toBe(0);
  });
});

describe("a foreground daemon whose command line changed", () => {
  it("is restarted by start (a new process with the new line); start with the same line signals the running one", { timeout: 30_000 }, async () => {
    const root = await tempRoot("argv");
    const target: ServerTarget = { root, environment: "rehearsal", address: "127.0.0.1" };
    // A daemon that survives SIGHUP, as Prometheus does; its last argument names its version.
    const spec = (version: string) =>
      daemon(
        {
          name: "argv-test",
          description: "a test daemon",
          dirs: [],
          validate: ["true"],
          argv: ["sh", "-c", "trap '' HUP; while :; do sleep 0.2; done", `${root}/argv-test`, version],
          forks: false,
          pidFile: "/run/amadegi/argv-test.pid",
          log: "/var/log/amadegi/argv-test.log",
          mark: `${root}/argv-test`,
          reload: "hup",
          listens: [],
          version: "true",
        },
        target,
      ).service;
    const start = async (version: string): Promise<number> => {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn("sh", ["-c", spec(version).start], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
      expect(r.code, r.stderr).toBe(0);
      return Number(readFileSync(rooted(target, "/run/amadegi/argv-test.pid"), "utf8").trim());
    };
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    try {
      const first = await start("v1");
      expect(cmdline(first)).toContain("v1");
      // The same line: the running process is signalled (HUP), not replaced.
      expect(await start("v1")).toBe(first);
      // Another line (a new flag, a niceness): restarted, so the change takes effect.
      const second = await start("v2");
      expect(second).not.toBe(first);
      expect(cmdline(second)).toContain("v2");
      // The first is gone (or a zombie its parent has not reaped yet).
      const state = (pid: number) => (existsSync(`/proc/${pid}`) ? (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? "?") : "gone");
      expect(state(first)).toMatch(/^(gone|Z)$/);
    } finally {
      await new Promise<void>((resolve) => spawn("sh", ["-c", spec("v2").stop], { stdio: "ignore" }).on("exit", () => resolve()));
      await rm(dirname(root), { recursive: true, force: true });
    }
  });
});

describe("a daemon whose port another process holds", () => {
  /** A process of no service's listening on a free loopback port; resolves once it listens. */
  const holder = async (): Promise<{ child: ReturnType<typeof spawn>; port: number }> => {
    const child = spawn(process.execPath, ["-e", "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port))"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve) => child.stdout?.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))));
    return { child, port };
  };
  const spec = (root: string, port: number) =>
    daemon(
      {
        name: "port-test",
        description: "a test daemon",
        dirs: [],
        validate: ["true"],
        argv: [process.execPath, "-e", "require('net').createServer().listen(Number(process.argv[1]), '127.0.0.1')", String(port), `${root}/port-test`],
        forks: false,
        pidFile: "/run/amadegi/port-test.pid",
        log: "/var/log/amadegi/port-test.log",
        mark: `${root}/port-test`,
        reload: "hup",
        listens: [{ proto: "tcp", address: "127.0.0.1", port }],
        version: "true",
      },
      { root, environment: "rehearsal", address: "127.0.0.1" },
    ).service;
  const runSh = (script: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("exit", (code) => resolve({ code, stderr }));
    });

  it(
    "start waits while the port is held (its own earlier process can hold it an instant after it reads as gone), then starts",
    { timeout: 30_000 },
    async () => {
      const root = await tempRoot("port-freed");
      const held = await holder();
      try {
        const started = runSh(spec(root, held.port).start);
        // Freed a little later: a start that did not wait would have launched into a bound port and exited.
        setTimeout(() => held.child.kill("SIGTERM"), 500);
        const r = await started;
        expect(r.code, r.stderr).toBe(0);
        const pid = Number(readFileSync(rooted({ root, environment: "rehearsal", address: "127.0.0.1" }, "/run/amadegi/port-test.pid"), "utf8").trim());
        expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain(`${root}/port-test`);
        // The port is the daemon's own (a start fooled by the holder's socket would leave a daemon that exited on EADDRINUSE).
        expect(spawnSync("ss", ["-Hltnp", `src 127.0.0.1:${held.port}`], { encoding: "utf8" }).stdout).toContain(`pid=${pid},`);
      } finally {
        held.child.kill("SIGKILL");
        await runSh(spec(root, held.port).stop);
        await rm(dirname(root), { recursive: true, force: true });
      }
    },
  );

  it("when the port is never freed, start fails with one line naming the port and who holds it, and starts nothing", { timeout: 30_000 }, async () => {
    const root = await tempRoot("port-held");
    const held = await holder();
    try {
      const r = await runSh(spec(root, held.port).start);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(
        new RegExp(`^port-test: cannot start: tcp 127\\.0\\.0\\.1:${held.port} held by another process after 5 s \\(.*pid=${held.child.pid},`),
      );
      expect(r.stderr).toMatch(/; stop it, or free the port\n$/);
      expect(existsSync(rooted({ root, environment: "rehearsal", address: "127.0.0.1" }, "/run/amadegi/port-test.pid"))).toBe(false);
    } finally {
      held.child.kill("SIGKILL");
      await rm(dirname(root), { recursive: true, force: true });
    }
  });
});
