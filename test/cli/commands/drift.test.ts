// `amadegi drift` end to end on this machine, with nothing faked: five real
// sshd on 127.53.0.1–5 (one per server of a copy of the probe fixture), a
// pins overlay giving their host keys and roots (as the rehearsal's does),
// the renderers' files written under each root and the provisioned state a
// stack would record for them (--provisioned), the services' ports really
// listening, and campaign results in the real format. Then a file is changed
// by hand, another removed, a port closed, a server dropped from the outputs
// and one added, a link never observed, an sshd stopped: each kind, its exit
// code, the stored report, history's new/resolved, and a waiver.
import { execFileSync } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDrift } from "../../../src/cli/commands/drift.ts";
import { main } from "../../../src/cli/main.ts";
import { type Inventory, loadInventory } from "../../../src/model/index.ts";
import { renderServer } from "../../../src/model/render/index.ts";
import type { ProvisionedServer } from "../../../src/model/render/types.ts";
import { declaredServer, type DriftReport } from "../../../src/readiness/drift/index.ts";
import { writeSyntheticResults } from "../../../src/readiness/synthetic.ts";
import { ATTACKS, attack, commandsIn, driftWith, plain } from "../../helpers/encoding.ts";
import { keygen, startSshd, type Sshd } from "../../helpers/sshd.ts";

const FIXTURE = join(import.meta.dirname, "..", "..", "probe", "fixtures");
const STACK = `test-drift-${process.pid}`;
const SERVERS = [
  { id: "gw-a", roles: "[gateway]", site: "DC-A", extra: "capacity: { stations: 100 }" },
  { id: "gw-b", roles: "[gateway]", site: "DC-B", extra: "capacity: { stations: 100 }" },
  { id: "dns-a", roles: "[dns]", site: "DC-A", extra: "" },
  { id: "ntp-a", roles: "[ntp]", site: "DC-A", extra: "" },
  { id: "auth-a", roles: "[auth]", site: "DC-B", extra: "" },
] as const;

let root: string;
let inventoryDir: string;
let inv: Inventory;
const sshd = new Map<string, Sshd>();
const roots = new Map<string, string>();
const provisioned: Record<string, ProvisionedServer> = {};
const tcp: Server[] = [];
const udp: UdpSocket[] = [];
let results: string;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: root, env: { ...process.env, AMADEGI_STATE_DIR: join(root, ".amadegi") } },
    out,
    err,
  };
}

const address = (i: number) => `127.53.0.${i + 1}`;

async function listenTcp(host: string, port: number): Promise<Server> {
  const server = createServer((s) => s.end());
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  tcp.push(server);
  return server;
}

async function listenUdp(host: string, port: number): Promise<UdpSocket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => socket.once("error", reject).bind(port, host, resolve));
  udp.push(socket);
  return socket;
}

let ntpSocket: UdpSocket;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "amadegi-t-drift-"));
  inventoryDir = join(root, "inventory");
  await cp(join(FIXTURE, "inventory"), inventoryDir, { recursive: true });
  await cp(join(FIXTURE, "governance"), join(root, "governance"), { recursive: true });
  const original = await readFile(join(FIXTURE, "inventory", "servers.yaml"), "utf8");
  const keys = [...original.matchAll(/hostKey: (ssh-ed25519 [A-Za-z0-9+/=]+)/g)].map((m) => m[1]);
  // One control key every server accepts, as the rehearsal's.
  const control = join(root, "control_ed25519");
  const controlPub = await keygen(control);
  for (const [i, s] of SERVERS.entries()) {
    const d = await startSshd(address(i));
    sshd.set(s.id, d);
    await appendFile(join(d.dir, "authorized_keys"), `${controlPub}\n`);
    roots.set(s.id, join(root, "servers", s.id, "root"));
  }
  // servers.yaml: the fixture's servers and production pins, at the sshd's addresses and ports.
  const servers = [
    "sites:",
    "  - { id: DC-A, name: مرکز داده الف }",
    "  - { id: DC-B, name: مرکز داده ب }",
    "servers:",
    ...SERVERS.flatMap((s, i) => [
      `  - id: ${s.id}`,
      `    roles: ${s.roles}`,
      `    address: ${address(i)}`,
      `    site: ${s.site}`,
      `    ssh: { port: ${sshd.get(s.id)?.port}, hostKey: ${keys[i]} }`,
      ...(s.extra === "" ? [] : [`    ${s.extra}`]),
    ]),
    "",
  ];
  await writeFile(join(inventoryDir, "servers.yaml"), servers.join("\n"));
  const loaded = await loadInventory(inventoryDir);
  if (loaded.inventory === undefined) throw new Error(`the test inventory does not load: ${loaded.findings.map((f) => f.message).join("; ")}`);
  inv = loaded.inventory;
  // The overlay: the sshd's own host keys, the root user, each server's root, the control key.
  const pins = [
    "stack: " + STACK,
    `controlKey: ${JSON.stringify(control)}`,
    "servers:",
    ...SERVERS.flatMap((s, i) => [
      `  - id: ${s.id}`,
      `    address: ${address(i)}`,
      `    port: ${sshd.get(s.id)?.port}`,
      "    user: root",
      `    hostKey: ${sshd.get(s.id)?.hostKey}`,
      `    root: ${JSON.stringify(roots.get(s.id))}`,
    ]),
    "",
  ];
  await writeFile(join(root, "pins.yaml"), pins.join("\n"));
  await mkdir(join(root, "stacks"));
  await writeFile(
    join(root, "stacks", `Pulumi.${STACK}.yaml`),
    [
      "config:",
      "  amadegi:environment: rehearsal",
      `  amadegi:inventory: ${inventoryDir}`,
      "  amadegi:probe:",
      "    allow: [127.53.0.0/16]",
      `    pins: ${join(root, "pins.yaml")}`,
      "",
    ].join("\n"),
  );
  // What `up` would have done: the renderers' files under each root, and the state it records.
  for (const s of inv.servers) {
    const serverRoot = roots.get(s.id) ?? "";
    const renders = renderServer(inv, s.id, { root: serverRoot, environment: "rehearsal", address: s.address });
    for (const file of renders.flatMap((r) => r.files)) {
      await mkdir(dirname(join(serverRoot, file.path)), { recursive: true });
      await writeFile(join(serverRoot, file.path), file.content, { mode: file.mode });
    }
    provisioned[s.id] = declaredServer(s.address, renders);
    for (const listen of renders.flatMap((r) => r.services.flatMap((svc) => svc.listens))) {
      if (listen.proto === "tcp") await listenTcp(listen.address, listen.port);
      else if (s.id === "ntp-a") ntpSocket = await listenUdp(listen.address, listen.port);
      else await listenUdp(listen.address, listen.port);
    }
  }
  await writeState(provisioned);
  results = join(root, "results.jsonl");
  writeSyntheticResults(results, inv, { now: new Date(), stack: STACK });
}, 60_000);

afterAll(async () => {
  for (const s of tcp) await new Promise((r) => s.close(r));
  for (const s of udp) await new Promise<void>((r) => s.close(() => r()));
  for (const d of sshd.values()) await d.stop();
  await rm(root, { recursive: true, force: true });
});

async function writeState(servers: Record<string, ProvisionedServer>): Promise<string> {
  const file = join(root, "provisioned.json");
  await writeFile(file, JSON.stringify({ stack: STACK, servers }, null, 1));
  return file;
}

async function drift(extra: string[] = [], json = true) {
  const { io, out, err } = capture();
  const code = await main(
    [
      "drift",
      "--stack",
      STACK,
      "--stacks",
      join(root, "stacks"),
      "--provisioned",
      join(root, "provisioned.json"),
      "--results",
      results,
      ...(json ? ["--json"] : []),
      ...extra,
    ],
    io,
  );
  // Exit 2 prints a report too when drift ran but could not judge; a refusal prints none.
  return { code, out, err, report: json && out.length > 0 ? (JSON.parse(out.join("\n")) as DriftReport) : undefined };
}

const kinds = (r: DriftReport | undefined) =>
  r?.items.map((i) => `${i.kind} ${i.object}${i.subject === undefined ? "" : ` ${i.subject}`}${i.waivedBy === undefined ? "" : ` (${i.waivedBy})`}`);

describe("amadegi drift", () => {
  it("nothing changed: exit 0, versions read from each server, the report stored where the gate reads it", async () => {
    const { code, report, err } = await drift();
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(report?.verdict).toBe("clean");
    expect(report?.items).toEqual([]);
    expect(report?.facts.map((f) => [f.server, f.reachable])).toEqual(SERVERS.map((s) => [s.id, true]));
    expect(report?.facts.find((f) => f.server === "gw-a")?.versions.nginx).toMatch(/nginx/);
    expect(report?.changes).toEqual({ appeared: [], resolved: [] });
    const stored = JSON.parse(await readFile(join(root, ".amadegi", "drift", `${STACK}.json`), "utf8")) as DriftReport;
    expect(stored.id).toBe(report?.id);
  }, 60_000);

  it("ssh is started by its broker, not by drift's own process, which holds the inventory and its render", async () => {
    // An ssh first on PATH that writes down its parent, then becomes the real one.
    const bin = join(root, "ssh-parent");
    await mkdir(bin, { recursive: true });
    const parents = join(bin, "parents");
    const real = execFileSync("sh", ["-c", "command -v ssh"], { encoding: "utf8" }).trim();
    await writeFile(join(bin, "ssh"), `#!/bin/sh\necho "$PPID" >> '${parents}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path ?? ""}`;
    try {
      const { code, report } = await drift();
      expect(code).toBe(0);
      expect(report?.facts.every((f) => f.reachable)).toBe(true);
    } finally {
      process.env.PATH = path;
    }
    const pids = (await readFile(parents, "utf8")).trim().split("\n").map(Number);
    expect(pids).toHaveLength(SERVERS.length);
    expect(new Set(pids).size).toBe(1);
    expect(pids[0]).not.toBe(process.pid);
  }, 60_000);

  it("a file changed by hand, a file removed, a port closed: changed on the server, exit 1, what is new since the last report", async () => {
    const nginx = join(roots.get("gw-a") ?? "", "etc/amadegi/nginx/nginx.conf");
    const before = await readFile(nginx, "utf8");
    await appendFile(nginx, "# worker_connections raised by hand during the night\n");
    await rm(join(roots.get("dns-a") ?? "", "etc/amadegi/unbound/unbound.conf"));
    await new Promise<void>((r) => ntpSocket.close(() => r()));
    udp.splice(udp.indexOf(ntpSocket), 1);
    const { code, report } = await drift();
    expect(code).toBe(1);
    expect(kinds(report)).toEqual([
      "changed-on-server dns-a /etc/amadegi/unbound/unbound.conf",
      "changed-on-server gw-a /etc/amadegi/nginx/nginx.conf",
      "changed-on-server ntp-a service chronyd",
    ]);
    expect(report?.items[1]?.detail).toMatch(
      /^\/etc\/amadegi\/nginx\/nginx\.conf changed on the server: the stack wrote [0-9a-f]{12}, the server has [0-9a-f]{12}$/,
    );
    expect(report?.items[2]?.detail).toMatch(/^service chronyd is not listening on udp 127\.53\.0\.4:123/);
    expect(report?.changes?.appeared).toEqual(report?.items.map((i) => i.key));
    expect(report?.changes?.resolved).toEqual([]);
    // Put the hand-edited file back: resolved next time.
    await writeFile(nginx, before);
  }, 60_000);

  it("every kind at once, counts first and details by kind; exit 1", async () => {
    const rest = { ...provisioned };
    delete rest["auth-a"];
    const gwA = provisioned["gw-a"];
    if (gwA === undefined) throw new Error("no gw-a");
    await writeState({ ...rest, "gw-old": { ...gwA, address: "127.53.9.9" } });
    writeSyntheticResults(results, inv, { now: new Date(), stack: STACK, edit: (r) => (r.link === "PKD-0002-M" ? undefined : r) });
    await sshd.get("gw-b")?.stop();
    const { code, out } = await drift([], false);
    expect(code).toBe(1);
    const text = out.join("\n");
    const counts = text.slice(0, text.indexOf("\n\n"));
    expect(counts).toMatch(/declared, not provisioned yet \(run amadegi up\)\s+1\n/);
    expect(counts).toMatch(/provisioned, no longer declared\s+1\n/);
    expect(counts).toMatch(/changed on the server\s+2\n/);
    expect(counts).toMatch(/declared, never observed\s+1\n/);
    expect(counts).toMatch(/facts could not be collected\s+1\n/);
    expect(counts).toMatch(/\+ not-declared gw-old/);
    expect(counts).toMatch(/- changed-on-server gw-a \/etc\/amadegi\/nginx\/nginx\.conf/);
    const details = text.slice(text.indexOf("\n\n"));
    expect(details).toMatch(
      new RegExp(
        /declared, not provisioned yet \(run amadegi up\):\n {2}auth-a {2}owner it-committee\n/.source +
          / {6}declared \(auth at 127\.53\.0\.5, 1 file\), not in the stack's outputs/.source,
      ),
    );
    expect(details).toMatch(/provisioned, no longer declared:\n {2}gw-old {2}owner it-committee/);
    expect(details).toMatch(/declared, never observed:\n {2}PKD-0002-M {2}owner mci {2}\[PKD-0002, pakdasht\]/);
    expect(details).toMatch(/facts could not be collected:\n {2}gw-b {2}owner it-committee\n {6}gw-b \(127\.53\.0\.2:\d+\): .*Connection refused/);
    expect(out.at(-2)).toBe("DRIFT: 5 unwaived items in stack " + STACK + " (exit 1)");
    expect(out.at(-1)).toMatch(new RegExp(`^report: .*/\\.amadegi/drift/${STACK}\\.json$`));
  }, 60_000);

  it("a drift waiver of the committee accepts its kind on its server; unreachable alone is exit 2 (cannot judge)", async () => {
    await writeState(provisioned);
    writeSyntheticResults(results, inv, { now: new Date(), stack: STACK });
    await writeFile(
      join(inventoryDir, "waivers.yaml"),
      "waivers:\n" +
        "  - { id: W-9, rule: drift.changed-on-server, item: dns-a, " +
        "reason: unbound is being re-tested by hand, approvedBy: synthetic-1, until: 1405-12-06 }\n" +
        "  - { id: W-10, rule: drift.changed-on-server, item: ntp-a, " +
        "reason: chronyd moves to another port, approvedBy: synthetic-1, until: 1405-12-06 }\n",
    );
    const { code, report } = await drift();
    expect(kinds(report)).toEqual([
      "changed-on-server dns-a /etc/amadegi/unbound/unbound.conf (W-9)",
      "changed-on-server ntp-a service chronyd (W-10)",
      "unreachable gw-b",
    ]);
    expect(report?.waived["changed-on-server"]).toBe(2);
    expect(report?.verdict).toBe("cannot-judge");
    expect(code).toBe(2);
  }, 60_000);

  it("refuses what it cannot use, naming it (exit 2)", async () => {
    const bad = join(root, "bad.json");
    await writeFile(bad, JSON.stringify({ stack: STACK, servers: { "gw-a": { address: "x" } } }));
    const { io, err } = capture();
    expect(await main(["drift", "--stack", STACK, "--stacks", join(root, "stacks"), "--provisioned", bad], io)).toBe(2);
    expect(err.join("\n")).toMatch(/the provisioned state .*bad\.json is not usable: servers\.gw-a\.roles: expected a list of role names/);
    const none = capture();
    expect(await main(["drift"], none.io)).toBe(2);
    expect(none.err.join("\n")).toMatch(/drift needs --stack NAME/);
  });
});

describe("formatDrift with data that carries attacks (issue 14)", () => {
  it("every field of a drift report as an attack, in turn: no line breaks out or is a workflow command", () => {
    const plainLines = formatDrift(driftWith(plain).report, "plain");
    for (let k = 0; k < ATTACKS.length; k++) {
      const found = driftWith((i) => attack(i + k));
      const lines = formatDrift(found.report, found.file);
      expect(lines.length, `round ${k}`).toBe(plainLines.length);
      expect(
        lines.filter((l) => /[\p{Cc}\u202A-\u202E\u2066-\u2069]|[\uD800-\uDFFF]/u.test(l)),
        `round ${k}`,
      ).toEqual([]);
      expect(commandsIn(lines.join("\n")), `round ${k}`).toEqual([]);
    }
  });
});
