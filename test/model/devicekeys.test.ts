import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deviceFingerprint, deviceKeysText, readDeviceKeys } from "../../src/model/devicekeys.ts";
import { formatFinding, type Station } from "../../src/model/index.ts";
import { deviceLayout, ensureDeviceKeys, keyFingerprint } from "../../src/rehearsal/devices.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const FP = (c: string) => `SHA256:${c.repeat(43)}`;
const stations = [
  { id: "S1", device: { serial: "DEV-1", fingerprint: FP("a"), spares: 0, ups: false } },
  { id: "S2", device: { serial: "DEV-2", fingerprint: FP("b"), spares: 0, ups: false } },
] as unknown as Pick<Station, "id" | "device">[];

async function read(text: string) {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-keys-"));
  dirs.push(dir);
  const file = join(dir, "keys.yaml");
  await writeFile(file, text);
  const result = readDeviceKeys(file, stations);
  return { ...result, lines: result.findings.map((f) => formatFinding(f).replace(`${dir}/`, "")) };
}

describe("the device-keys overlay", () => {
  it("reads every device's fingerprint, which then replaces the inventory's", async () => {
    const result = await read(
      deviceKeysText(
        [
          { serial: "DEV-1", fingerprint: FP("c") },
          { serial: "DEV-2", fingerprint: FP("d") },
        ],
        ["a header"],
      ),
    );
    expect(result.lines).toEqual([]);
    expect(result.keys).toEqual(
      new Map([
        ["DEV-1", FP("c")],
        ["DEV-2", FP("d")],
      ]),
    );
    expect(deviceFingerprint(stations[0] as Station, result.keys)).toBe(FP("c"));
    // Without an overlay (production), the inventory's.
    expect(deviceFingerprint(stations[0] as Station, undefined)).toBe(FP("a"));
  });

  it("refuses an overlay written for another inventory: an unknown serial, a device missing, one listed twice, not a fingerprint", async () => {
    const unknown = await read(
      deviceKeysText(
        [
          { serial: "DEV-1", fingerprint: FP("c") },
          { serial: "DEV-9", fingerprint: FP("d") },
        ],
        [],
      ),
    );
    expect(unknown.keys).toBeUndefined();
    expect(unknown.lines.join("\n")).toMatch(/device DEV-9 is no station's device in the inventory/);
    expect(unknown.lines.join("\n")).toMatch(/station S2's device DEV-2 has no key in the overlay/);
    expect(unknown.lines.join("\n")).toMatch(/keys\.yaml:\d+/);

    const twice = await read(
      deviceKeysText(
        [
          { serial: "DEV-1", fingerprint: FP("c") },
          { serial: "DEV-1", fingerprint: FP("d") },
        ],
        [],
      ),
    );
    expect(twice.keys).toBeUndefined();
    expect(twice.lines.join("\n")).toMatch(/device DEV-1 is listed twice/);

    const bad = await read('devices:\n  - serial: "DEV-1"\n    fingerprint: "MD5:aa"\n  - serial: "DEV-2"\n    fingerprint: "' + FP("e") + '"\n');
    expect(bad.keys).toBeUndefined();
    expect(bad.lines.join("\n")).toMatch(/is not a SHA256 key fingerprint/);
  });

  it("a missing overlay is an error naming the file and what writes it", () => {
    expect(() => readDeviceKeys("/nonexistent/keys.yaml", stations)).toThrow(/no device-keys overlay \/nonexistent\/keys\.yaml/);
  });

  it("the rehearsal's devices write it with their own keys' fingerprints (SHA-256 of the SPKI DER, as the recorder computes it)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-keys-"));
    dirs.push(dir);
    await ensureDeviceKeys(dir, ["DEV-1", "DEV-2"]);
    const layout = deviceLayout(dir);
    const result = readDeviceKeys(layout.keys, stations);
    expect(result.findings).toEqual([]);
    for (const serial of ["DEV-1", "DEV-2"]) {
      const der = createPublicKey(createPrivateKey(await readFile(layout.key(serial)))).export({ type: "spki", format: "der" });
      const expected = `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
      expect(result.keys?.get(serial)).toBe(expected);
    }
    // Another key gives another fingerprint; the inventory's fake ones are not the devices'.
    expect(keyFingerprint(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey)).not.toBe(result.keys?.get("DEV-1"));
    expect(result.keys?.get("DEV-1")).not.toBe(FP("a"));
    // Kept keys keep their fingerprints when it is written again.
    const again = await ensureDeviceKeys(dir, ["DEV-1", "DEV-2"]);
    expect(again.kept).toBe(2);
    expect(readDeviceKeys(layout.keys, stations).keys).toEqual(result.keys);
  });
});
