// `amadegi rehearsal devices …` on the real rehearsal of the Pakdasht sample:
// keys, then (with certificates signed here, as the stack would) one responder
// per operator namespace checking in for every station; one gateway
// (gw-teh1-01) is a real nginx with a recorder inside the rehearsal's core,
// the others do not listen. `rehearsal down` stops the responders. Every
// packet stays inside the rehearsal's namespaces.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { loadInventory, readDeviceKeys } from "../../src/model/index.ts";
import { linksOf } from "../../src/model/render/index.ts";
import type { Inventory } from "../../src/model/types.ts";
import { parseRecord } from "../../src/probe/probes/checkin-record.ts";
import { deviceLayout } from "../../src/rehearsal/devices.ts";
import { type Plan, rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";
import { readResponderStatus, type LinkStatus } from "../../src/rehearsal/responder.ts";
import { devicesStatus, responderFiles, responderPids, waitForFirstCheckins } from "../../src/rehearsal/responders.ts";
import { execIn, inNetns, listNetns } from "../../src/toolchain/netns.ts";
import { stopChild } from "../helpers/children.ts";
import { type Recorder, startRecorder, waitFor } from "../helpers/checkin-recorder.ts";
import { netnsAvailable } from "../helpers/netns.ts";
import { issueDevices, makeTestCa, type TestCa } from "./device-ca.ts";
import { pakdashtInventory } from "./fixture.ts";

const run = promisify(execFile);
const available = process.getuid?.() === 0 && (await netnsAvailable()) && existsSync("/usr/sbin/nginx");
const prefix = `amadegi-r-d${process.pid}-`;
const GATEWAY = "gw-teh1-01";

let root = "";
let inventory = "";
let state = "";
let model: Inventory;
let plan: Plan;
let nginx: ChildProcess | undefined;
let recorder: Recorder | undefined;
let ca: TestCa | undefined;
type Rec = Record<string, unknown>;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: process.cwd(), env: process.env }, out, err };
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { io, out, err } = capture();
  const code = await main(["rehearsal", "devices", ...args, "--inventory", inventory, "--state", state], io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * One POST /checkin to the gateway at `address`, inside namespace `ns` from `from` (a link's address; absent: the
 * namespace's own), presenting `who`'s certificate and claiming PKD-0001's fiber link: the HTTP status curl printed.
 */
async function postCheckin(ns: string, address: string, who: { cert: string; key: string }, from?: string): Promise<string> {
  const source = from === undefined ? [] : ["--interface", from];
  const claim = ["-H", "X-Amadegi-Station: PKD-0001", "-H", "X-Amadegi-Link: PKD-0001-F"];
  const argv = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", ...source, "--cert", who.cert, "--key", who.key, "-X", "POST", ...claim];
  return (await execIn(ns, [...argv, `https://${address}/checkin`], { timeoutMs: 10_000 })).stdout;
}

function linkStatus(link: string): LinkStatus | undefined {
  return devicesStatus(state).links.find((l) => l.link === link);
}

describe.skipIf(!available)("rehearsal devices on the Pakdasht sample (root, real namespaces, nginx)", () => {
  beforeAll(async () => {
    const fixture = await pakdashtInventory();
    root = fixture.root;
    inventory = fixture.inventory;
    state = join(root, "state");
    const loaded = await loadInventory(inventory);
    if (loaded.inventory === undefined) throw new Error("fixture does not load");
    model = loaded.inventory;
    plan = (await rehearsalUp({ inventory, stateDir: state, prefix })).plan;
  }, 120_000);

  afterAll(async () => {
    if (nginx !== undefined) await stopChild(nginx);
    await recorder?.stop();
    await rehearsalDown({ stateDir: state, prefix }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it("devices keys: a key and a request per station device (rehearsal up made them), a lost one made again, kept on a second run", async () => {
    const layout = deviceLayout(state);
    const files = readdirSync(layout.dir);
    expect(files.filter((f) => f.endsWith(".csr")).sort()).toEqual(model.stations.map((s) => `${s.device.serial}.csr`).sort());
    const lost = model.stations[0]?.device.serial ?? "";
    const before = readDeviceKeys(layout.keys, model.stations).keys?.get(lost);
    await rm(layout.key(lost));
    await rm(layout.csr(lost));
    const first = await cli("keys");
    expect(first.code).toBe(0);
    expect(first.out).toContain(`${model.stations.length} devices, 1 new`);
    // The overlay names the new key: a device that made a new key is accepted with it, not with the lost one.
    const after = readDeviceKeys(layout.keys, model.stations).keys?.get(lost);
    expect(after).toMatch(/^SHA256:/);
    expect(after).not.toBe(before);
    const second = await cli("keys");
    expect(second.out).toContain(`0 new, 0 requests remade, ${model.stations.length} kept`);
  }, 60_000);

  it("devices start refuses (exit 2) while no certificate is issued", async () => {
    const result = await cli("start");
    expect(result.code).toBe(2);
    expect(result.err).toContain("no rehearsal CA");
    expect(responderPids(state)).toEqual([]);
  });

  it("devices start: a responder per operator, inside its namespace; the gateway that listens records its stations over each link", async () => {
    // What the stack does in the rehearsal: sign every request, publish the CA.
    const layout = deviceLayout(state);
    ca = await makeTestCa(join(root, "ca"));
    await issueDevices(
      ca,
      layout.dir,
      model.stations.map((s) => s.device.serial),
    );
    // One gateway for real, in the rehearsal's core: nginx (mutual TLS) and the recorder.
    const address = model.serversById.get(GATEWAY)?.address ?? "";
    // links.json as the stack renders it: every station's link, its device's serial and the key the device made
    // (the device-keys overlay `rehearsal up` wrote), so a certificate with any other key is refused.
    const keys = readDeviceKeys(layout.keys, model.stations).keys;
    expect(keys?.size).toBe(model.stations.length);
    const links = linksOf(
      model,
      model.stations.map((s) => s.id),
      keys,
    );
    const gwDir = join(root, "gateway");
    await mkdir(join(gwDir, "tmp"), { recursive: true });
    recorder = await startRecorder(gwDir, links, GATEWAY, GATEWAY);
    const server = await ca.gateway(GATEWAY, address);
    await writeFile(
      join(gwDir, "nginx.conf"),
      [
        "worker_processes 1;",
        "user root;",
        "daemon off;",
        `pid ${join(gwDir, "nginx.pid")};`,
        `error_log ${join(gwDir, "error.log")};`,
        "events { worker_connections 512; }",
        "http {",
        "  access_log off;",
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(gwDir, "tmp", t)};`),
        "  server {",
        `    listen ${address}:443 ssl;`,
        `    ssl_certificate ${server.cert};`,
        `    ssl_certificate_key ${server.key};`,
        `    ssl_client_certificate ${layout.ca};`,
        "    ssl_verify_client on;",
        "    location = /checkin {",
        `      proxy_pass http://unix:${recorder.socket}:/checkin;`,
        "      proxy_set_header X-Client-Cert $ssl_client_escaped_cert;",
        "      proxy_set_header X-Source-Address $remote_addr;",
        "      proxy_set_header X-TLS-Protocol $ssl_protocol;",
        "    }",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    nginx = spawn("ip", ["netns", "exec", plan.core, "/usr/sbin/nginx", "-p", gwDir, "-c", join(gwDir, "nginx.conf"), "-e", join(gwDir, "error.log")], {
      stdio: "ignore",
    });
    await waitFor("nginx in the core", () => existsSync(join(gwDir, "nginx.pid")));

    const result = await cli("start", "--interval", "8", "--timeout", "2");
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    const operators = plan.operators.filter((o) => o.answering > 0);
    expect(result.out).toContain(`devices started: ${operators.length} responders`);
    const pids = responderPids(state);
    expect(pids).toHaveLength(operators.length);
    for (const o of operators) {
      const header = readResponderStatus(responderFiles(state, o.id).status)?.header;
      expect(header?.pid).toBeDefined();
      expect(inNetns(o.ns, header?.pid)).toBe(true);
    }

    // PKD-0001's primary is gw-teh1-01: both its links (tci fiber, irancell mobile) check in there.
    const station = model.stationsById.get("PKD-0001");
    expect(station?.gateways.primary).toBe(GATEWAY);
    const { stdout } = await run("sh", [
      "-c",
      `openssl pkey -in "${layout.key(station?.device.serial ?? "")}" -pubout -outform DER | openssl dgst -sha256 -binary | base64`,
    ]);
    const fingerprint = `SHA256:${stdout.trim().replace(/=+$/, "")}`;
    await waitFor(
      "PKD-0001's two links at the gateway",
      () =>
        new Set(recorder?.lines().map((l) => (l as { sourceLink?: string }).sourceLink)).has("PKD-0001-F") &&
        new Set(recorder?.lines().map((l) => (l as { sourceLink?: string }).sourceLink)).has("PKD-0001-M"),
      30_000,
    );
    for (const link of station?.links ?? []) {
      const line = recorder.lines().find((l) => (l as { sourceLink?: string }).sourceLink === link.id);
      const parsed = parseRecord(JSON.stringify(line));
      expect(parsed.ok && parsed.record).toMatchObject({
        serial: station?.device.serial,
        station: "PKD-0001",
        link: link.id,
        source: link.address,
        gateway: GATEWAY,
        certFingerprint: fingerprint,
      });
    }
    // Every record the gateway wrote is consistent: the device's link is the network's.
    expect(recorder.lines().filter((l) => (l as { link: string; sourceLink?: string }).link !== (l as { sourceLink?: string }).sourceLink)).toEqual([]);

    // The stations' routers answer their management port on each link address, from the probing namespace (link-tcp).
    const fiber = station?.links.find((l) => l.medium === "fiber")?.address ?? "";
    const banner = await execIn(plan.probe, ["bash", "-c", `exec 3<>/dev/tcp/${fiber}/22 && head -c 40 <&3`], { timeoutMs: 10_000 });
    expect(banner.stdout).toMatch(/^SSH-2\.0-amadegi-rehearsal-router/);
  }, 120_000);

  it("devices status: a station of another gateway is refused at both; a blind spot times out", async () => {
    const other = model.stations.find(
      (s) => s.gateways.primary !== GATEWAY && s.gateways.secondary !== GATEWAY && s.links.every((l) => l.lifecycle.state === "live"),
    );
    const blind = plan.operators.flatMap((o) => o.blind)[0];
    const otherLink = other?.links[0]?.id ?? "";
    await waitFor("the other station's link tried", () => linkStatus(otherLink)?.state === "failing", 30_000);
    expect(linkStatus(otherLink)?.last).toMatchObject({
      ok: false,
      failure: "refused",
      gateway: other?.gateways.secondary,
      primaryFailed: { gateway: other?.gateways.primary, failure: "refused" },
    });
    await waitFor("the blind spot tried", () => linkStatus(blind?.link ?? "")?.state === "failing", 30_000);
    expect(linkStatus(blind?.link ?? "")?.last?.failure).toBe("timeout");
    // Every link has tried once: what the demo and the bench wait for.
    const first = await waitForFirstCheckins(state, 60_000);
    expect(first.complete).toBe(true);
    expect(first.links.filter((l) => l.state === "pending")).toEqual([]);
    expect(first.links.some((l) => l.state === "ok")).toBe(true);
    const shown = await cli("status");
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^devices: responders running; \d+ links: [1-9]\d* ok, [1-9]\d* failing/);
    const { io, out } = capture();
    await main(["rehearsal", "status", "--inventory", inventory, "--state", state], io);
    expect(out.join("\n")).toMatch(/devices: \d+\/\d+ responders running/);
  }, 90_000);

  it("a forged check-in through the real nginx: a device's certificate from another station's address is refused, kept as a rejected attempt", async () => {
    const layout = deviceLayout(state);
    const owner = model.stationsById.get("PKD-0001");
    const address = model.serversById.get(GATEWAY)?.address ?? "";
    // Another station's fiber link: its address, in its operator's namespace.
    const other = model.stations.find((s) => s.id !== "PKD-0001" && s.links.some((l) => l.medium === "fiber" && l.address !== undefined));
    const link = other?.links.find((l) => l.medium === "fiber" && l.address !== undefined);
    const ns = plan.operators.find((o) => o.id === link?.operator)?.ns;
    const gateway = recorder;
    if (owner === undefined || other === undefined || link?.address === undefined || ns === undefined || gateway === undefined)
      throw new Error("the fixture has no second station with a fiber link, or the gateway did not start");
    const before = gateway.lines().length;
    const owned = { cert: layout.cert(owner.device.serial), key: layout.key(owner.device.serial) };
    expect(await postCheckin(ns, address, owned, link.address)).toBe("403");
    // The devices keep checking in meanwhile: wait for this attempt's own line, not for any new one.
    await waitFor(
      "the rejected attempt in the gateway's log",
      () => (gateway.lines().slice(before) as Rec[]).some((l) => l.kind === "rejected" && l.source === link.address),
      10_000,
    );
    const added = gateway.lines().slice(before) as Record<string, unknown>[];
    const attempts = added.filter((l) => l.kind === "rejected");
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      reason: "other-station",
      serial: owner.device.serial,
      claimedStation: "PKD-0001",
      station: other.id,
      sourceLink: link.id,
      source: link.address,
    });
    // Nothing of it counts as a check-in of either station.
    expect(added.filter((l) => l.kind === undefined && l.source === link.address && l.serial === owner.device.serial)).toEqual([]);
  }, 60_000);

  it("a genuine device's certificate from an address that is no link of any station (the probing namespace) is refused and kept", async () => {
    const owner = model.stationsById.get("PKD-0001");
    const address = model.serversById.get(GATEWAY)?.address ?? "";
    const gateway = recorder;
    if (owner === undefined || gateway === undefined) throw new Error("no PKD-0001, or the gateway did not start");
    const layout = deviceLayout(state);
    const before = gateway.lines().length;
    const owned = { cert: layout.cert(owner.device.serial), key: layout.key(owner.device.serial) };
    expect(await postCheckin(plan.probe, address, owned)).toBe("403");
    // The devices keep checking in meanwhile: wait for this attempt's own line, and read only the lines from its source.
    await waitFor(
      "the unlisted-source attempt in the gateway's log",
      () => (gateway.lines().slice(before) as Rec[]).some((l) => l.source === plan.probeAddress),
      10_000,
    );
    const added = (gateway.lines().slice(before) as Rec[]).filter((l) => l.source === plan.probeAddress);
    expect(added).toEqual([
      expect.objectContaining({
        kind: "rejected",
        reason: "unlisted-source",
        serial: owner.device.serial,
        claimedStation: "PKD-0001",
        source: plan.probeAddress,
      }),
    ]);
  }, 60_000);

  it("forged check-ins from the station's own link: its serial with another key, and a serial not in the inventory, are refused and kept", async () => {
    const owner = model.stationsById.get("PKD-0001");
    const link = owner?.links.find((l) => l.medium === "fiber" && l.address !== undefined);
    const ns = plan.operators.find((o) => o.id === link?.operator)?.ns;
    const address = model.serversById.get(GATEWAY)?.address ?? "";
    const gateway = recorder;
    if (owner === undefined || link?.address === undefined || ns === undefined || gateway === undefined)
      throw new Error("PKD-0001 has no fiber link, or the gateway did not start");
    // Certificates the CA signed (as a CA that signs what it is given would): CN = a serial, a key of the forger's.
    const forge = async (serial: string): Promise<{ cert: string; key: string }> => {
      if (ca === undefined) throw new Error("the test CA was not made");
      return ca.client(serial);
    };
    const cases = [
      { reason: "other-key", serial: owner.device.serial },
      { reason: "other-device", serial: "AHV-NOT-IN-INVENTORY" },
    ];
    for (const c of cases) {
      const forged = await forge(c.serial);
      const before = gateway.lines().length;
      expect(await postCheckin(ns, address, forged, link.address), c.reason).toBe("403");
      await waitFor(
        `the ${c.reason} attempt in the gateway's log`,
        () =>
          gateway
            .lines()
            .slice(before)
            .some((l) => (l as Rec).kind === "rejected"),
        10_000,
      );
      const added = gateway.lines().slice(before) as Rec[];
      expect(added.filter((l) => l.kind === "rejected")).toEqual([
        expect.objectContaining({ reason: c.reason, serial: c.serial, station: "PKD-0001", sourceLink: link.id, source: link.address }),
      ]);
      // The genuine device's check-ins from that address go on; the forger's never count as one.
      const forgedKey = (added.find((l) => l.kind === "rejected") as Rec).certFingerprint;
      expect(forgedKey).not.toBe(readDeviceKeys(deviceLayout(state).keys, model.stations).keys?.get(owner.device.serial));
      expect(added.filter((l) => l.kind === undefined && l.certFingerprint === forgedKey)).toEqual([]);
    }
  }, 60_000);

  it("a device flooding through the real nginx (1,000 check-ins at once) is answered 429 while the other stations keep checking in", async () => {
    const layout = deviceLayout(state);
    const owner = model.stationsById.get("PKD-0001");
    const address = model.serversById.get(GATEWAY)?.address ?? "";
    const link = owner?.links.find((l) => l.medium === "fiber" && l.address !== undefined);
    const ns = plan.operators.find((o) => o.id === link?.operator)?.ns;
    const gateway = recorder;
    if (owner === undefined || link?.address === undefined || ns === undefined || gateway === undefined)
      throw new Error("PKD-0001 has no fiber link, or the gateway did not start");
    type Entry = { station: string; link: string; checkin?: { time: string }; rejected?: { count: number; latest: { reason: string } } };
    const table = () => (gateway.readTable() as { links: Entry[] } | undefined)?.links ?? [];
    // The other stations' links the gateway has seen check in (the responders go on every 8 s).
    const others = table().filter((e) => e.station !== "PKD-0001" && e.checkin !== undefined);
    expect(others.length).toBeGreaterThan(0);
    const before = gateway.lines().length;
    const floodStart = new Date().toISOString();
    // The station's own device certificate, from its own fiber address: a genuine device gone wild (one curl, 20 connections at a time).
    const flood = await execIn(
      ns,
      [
        "curl",
        "-sk",
        "--parallel",
        "--parallel-max",
        "20",
        "-w",
        "STATUS %{http_code}\\n",
        "--interface",
        link.address,
        "--cert",
        layout.cert(owner.device.serial),
        "--key",
        layout.key(owner.device.serial),
        "-X",
        "POST",
        "-H",
        "X-Amadegi-Station: PKD-0001",
        "-H",
        `X-Amadegi-Link: ${link.id}`,
        `https://${address}/checkin?n=[1-1000]`,
      ],
      { timeoutMs: 120_000 },
    );
    const statuses = [...flood.stdout.matchAll(/STATUS (\d+)/g)].map((m) => m[1]);
    expect(statuses).toHaveLength(1000);
    const limited = statuses.filter((c) => c === "429").length;
    // The burst (20) and what refilled at 10 a minute pass; the rest is refused (without the limit: none).
    expect(limited).toBeGreaterThan(900);
    expect(statuses.filter((c) => c !== "429" && c !== "204")).toEqual([]);
    // Every other station's link checks in again after the flood began: nothing of theirs was pushed out.
    await waitFor(
      "every other link's check-in after the flood",
      () => {
        const now = new Map(table().map((e) => [`${e.station}/${e.link}`, e.checkin?.time ?? ""]));
        return others.every((e) => (now.get(`${e.station}/${e.link}`) ?? "") > floodStart);
      },
      60_000,
    );
    await waitFor("the flood counted at its link", () => (table().find((e) => e.link === link.id)?.rejected?.count ?? 0) >= limited, 10_000);
    const entry = table().find((e) => e.link === link.id);
    expect(entry?.rejected?.latest.reason).toBe("flood");
    // A flooding genuine device stays checked in.
    expect(entry?.checkin).toBeDefined();
    // The log: the flood is one security event (a minute), not a line per refusal.
    const added = gateway.lines().slice(before) as Record<string, unknown>[];
    const floods = added.filter((l) => l.kind === "rejected" && l.reason === "flood");
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(floods.length).toBeLessThanOrEqual(3);
    expect(floods[0]).toMatchObject({ serial: owner.device.serial, station: "PKD-0001", sourceLink: link.id, source: link.address });
    expect(added.filter((l) => l.source === link.address).length).toBeLessThan(60);
  }, 180_000);

  it("devices start again leaves the running responders alone", async () => {
    const before = responderPids(state).sort();
    const again = await cli("start", "--interval", "8", "--timeout", "2");
    expect(again.code).toBe(0);
    expect(again.out).toContain("devices already running, unchanged");
    expect(responderPids(state).sort()).toEqual(before);

    // A re-issued certificate (a new `up`): the responders read theirs at start, so start restarts them.
    const cert = deviceLayout(state).cert(model.stations[0]?.device.serial ?? "");
    await writeFile(cert, `${await readFile(cert, "utf8")}\n`);
    const reissued = await cli("start", "--interval", "8", "--timeout", "2");
    expect(reissued.code).toBe(0);
    expect(reissued.out).not.toContain("unchanged");
    expect(responderPids(state).sort()).not.toEqual(before);
  }, 60_000);

  it("rehearsal down stops the responders and removes devices/run; device keys and certificates stay", async () => {
    if (nginx !== undefined) await stopChild(nginx);
    const down = await rehearsalDown({ stateDir: state, prefix });
    expect(down.leftovers).toEqual([]);
    expect(responderPids(state)).toEqual([]);
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
    const layout = deviceLayout(state);
    expect(existsSync(layout.run)).toBe(false);
    expect(existsSync(layout.key(model.stations[0]?.device.serial ?? ""))).toBe(true);
    expect(existsSync(layout.ca)).toBe(true);
    expect(readdirSync(state).sort()).toEqual(["devices", "keys"]);
    // Nothing of the rehearsal answers any more; no process of ours is left in any namespace.
    expect((await execIn(plan.core, ["true"])).code).not.toBe(0);
    expect(readFileSync(recorder?.log ?? "", "utf8").length).toBeGreaterThan(0);
  }, 60_000);
});
