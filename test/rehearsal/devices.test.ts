// The rehearsal's station devices: one per station, keys and certificate
// requests in the state directory, checked with openssl (the request verifies,
// carries the serial and the key's public key; a CA signs it).
import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../src/model/types.ts";
import { deviceLayout, ensureDeviceKeys, planDevices } from "../../src/rehearsal/devices.ts";
import { ANSWERING_STATES, planRehearsal } from "../../src/rehearsal/plan.ts";
import { defaultIntervalMs, planResponders } from "../../src/rehearsal/responders.ts";
import { makeTestCa } from "./device-ca.ts";
import { pakdashtModel } from "./fixture.ts";

const run = promisify(execFile);

let root = "";
let inventory: Inventory;

async function openssl(args: readonly string[]): Promise<string> {
  return (await run("openssl", [...args])).stdout;
}

describe("device plan", () => {
  beforeAll(async () => {
    ({ root, inventory } = await pakdashtModel());
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("one device per station, with the inventory's serial, links that exist and have an address", () => {
    const { devices, findings } = planDevices(inventory);
    expect(findings).toEqual([]);
    expect(devices.map((d) => d.station)).toEqual(inventory.stations.map((s) => s.id));
    expect(devices.map((d) => d.serial)).toEqual(inventory.stations.map((s) => s.device.serial));
    for (const device of devices) {
      const station = inventory.stationsById.get(device.station);
      expect(device.primary).toBe(station?.gateways.primary);
      expect(device.secondary).toBe(station?.gateways.secondary);
      for (const link of device.links) {
        const declared = inventory.linksById.get(link.id)?.link;
        expect(declared?.address).toBe(link.address);
        expect(ANSWERING_STATES.has(declared?.lifecycle.state ?? "planned")).toBe(true);
      }
    }
    // The sample has links that are planned or ordered: they are not checked in over.
    const notYet = inventory.stations.flatMap((s) => s.links).filter((l) => !ANSWERING_STATES.has(l.lifecycle.state));
    expect(notYet.length).toBeGreaterThan(0);
    const planned = new Set(devices.flatMap((d) => d.links.map((l) => l.id)));
    for (const link of notYet) expect(planned.has(link.id)).toBe(false);
  });

  it("refuses a serial that cannot name a file and a serial two stations share", () => {
    const [a, b, ...rest] = inventory.stations;
    if (a === undefined || b === undefined) throw new Error("fixture too small");
    const edited = {
      ...inventory,
      stations: [
        { ...a, device: { ...a.device, serial: "../escape" } },
        { ...b, device: { ...b.device, serial: "DUP-1" } },
        { ...b, id: "PKD-X", device: { ...b.device, serial: "DUP-1" } },
        ...rest,
      ],
    };
    const { findings } = planDevices(edited);
    expect(findings).toHaveLength(2);
    expect(findings[0]).toContain(`station ${a.id}: device serial "../escape" cannot name`);
    expect(findings[1]).toContain(`station PKD-X: device serial DUP-1 is also station ${b.id}'s`);
  });

  it("one responder per operator carrying device links; every link once, in its operator's namespace", () => {
    const plan = planRehearsal(inventory, "amadegi-r-");
    const result = planResponders(inventory, plan, "/state");
    const links = result.responders.flatMap((r) => r.spec.devices.flatMap((d) => d.links.map((l) => ({ operator: r.operator, ns: r.ns, ...l }))));
    expect(links).toHaveLength(result.links);
    expect(new Set(links.map((l) => l.id)).size).toBe(links.length);
    for (const l of links) {
      expect(inventory.linksById.get(l.id)?.link.operator).toBe(l.operator);
      expect(l.ns).toBe(`amadegi-r-op-${l.operator}`);
    }
    const first = result.responders[0]?.spec;
    expect(first?.intervalMs).toBe(defaultIntervalMs(result.links));
    expect(first?.ca).toBe("/state/devices/issued/ca.crt");
    const device = first?.devices[0];
    const station = inventory.stationsById.get(device?.station ?? "");
    expect(device?.gateways).toEqual([station?.gateways.primary, station?.gateways.secondary]);
    expect(device?.cert).toBe(`/state/devices/issued/${device?.serial}.crt`);
    for (const g of first?.gateways ?? []) expect(inventory.serversById.get(g.id)?.address).toBe(g.address);
    // Nothing is issued under /state: every device with a link is reported uncertified.
    expect(result.uncertified).toHaveLength(result.devices);
  });

  it("the default interval keeps the whole rehearsal at about 40 check-ins a second, never below 15 s", () => {
    expect(2831 / (defaultIntervalMs(2831) / 1000)).toBeLessThanOrEqual(40);
    expect(2831 / (defaultIntervalMs(2831) / 1000)).toBeGreaterThan(39);
    expect(defaultIntervalMs(10)).toBe(15_000);
  });
});

describe("device keys and requests", () => {
  let state = "";
  beforeAll(async () => {
    state = await mkdtemp(join(tmpdir(), "amadegi-t-devices-"));
  });
  afterAll(async () => {
    await rm(state, { recursive: true, force: true });
  });

  it("an EC P-256 key (0600) and a request openssl verifies, with CN = serial and the key's public key", async () => {
    const result = await ensureDeviceKeys(state, ["AHV-PKD-0001", "AHV-PKD-0002"]);
    expect(result).toMatchObject({ created: 2, requests: 0, kept: 0 });
    const layout = deviceLayout(state);
    for (const serial of ["AHV-PKD-0001", "AHV-PKD-0002"]) {
      expect(statSync(layout.key(serial)).mode & 0o777).toBe(0o600);
      const text = await openssl(["req", "-in", layout.csr(serial), "-noout", "-verify", "-subject"]);
      expect(text.trim()).toBe(`subject=CN = ${serial}`);
      expect(await openssl(["req", "-in", layout.csr(serial), "-noout", "-pubkey"])).toBe(await openssl(["pkey", "-in", layout.key(serial), "-pubout"]));
      expect(await openssl(["pkey", "-in", layout.key(serial), "-noout", "-text"])).toContain("NIST CURVE: P-256");
    }
  });

  it("is idempotent, and makes a missing request again for the kept key", async () => {
    const layout = deviceLayout(state);
    const key = readFileSync(layout.key("AHV-PKD-0001"), "utf8");
    const again = await ensureDeviceKeys(state, ["AHV-PKD-0001", "AHV-PKD-0002"]);
    expect(again).toMatchObject({ created: 0, requests: 0, kept: 2 });
    expect(readFileSync(layout.key("AHV-PKD-0001"), "utf8")).toBe(key);
    await rm(layout.csr("AHV-PKD-0001"));
    const remade = await ensureDeviceKeys(state, ["AHV-PKD-0001", "AHV-PKD-0002"]);
    expect(remade).toMatchObject({ created: 0, requests: 1, kept: 1 });
    expect(readFileSync(layout.key("AHV-PKD-0001"), "utf8")).toBe(key);
    expect(await openssl(["req", "-in", layout.csr("AHV-PKD-0001"), "-noout", "-pubkey"])).toBe(
      await openssl(["pkey", "-in", layout.key("AHV-PKD-0001"), "-pubout"]),
    );
  });

  it("the request is one a CA signs: the certificate carries the serial and the device's key", async () => {
    const layout = deviceLayout(state);
    const ca = await makeTestCa(join(state, "ca"));
    const out = join(state, "AHV-PKD-0002.crt");
    await ca.sign(layout.csr("AHV-PKD-0002"), out, "clientAuth");
    const cert = new X509Certificate(readFileSync(out));
    expect(cert.subject).toBe("CN=AHV-PKD-0002");
    expect(cert.verify(new X509Certificate(readFileSync(ca.cert)).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(layout.key("AHV-PKD-0002"))))).toBe(true);
  });

  it("refuses a serial that cannot name a file, and a key file that is not a key", async () => {
    await expect(ensureDeviceKeys(state, ["../x"])).rejects.toThrow(/cannot name a file/);
    const layout = deviceLayout(state);
    await writeFile(layout.key("BROKEN-1"), "not a key");
    await expect(ensureDeviceKeys(state, ["BROKEN-1"])).rejects.toThrow(/BROKEN-1\.key is not a readable private key/);
  });

  it("1,415 devices (the sample's size) in seconds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-devices-many-"));
    try {
      const serials = Array.from({ length: 1415 }, (_, i) => `DEV-${String(i).padStart(4, "0")}`);
      const result = await ensureDeviceKeys(dir, serials);
      expect(result.created).toBe(1415);
      // Measured ~1 s here; one `openssl req` per device took ~4.5 s with two in parallel.
      expect(result.elapsedMs).toBeLessThan(15_000);
      const sample = serials[777] ?? "";
      expect((await openssl(["req", "-in", deviceLayout(dir).csr(sample), "-noout", "-verify", "-subject"])).trim()).toBe(`subject=CN = ${sample}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
