import { type Finding, sortFindings } from "./finding.ts";
import { readOverlay } from "./overlay.ts";
import { list, object, required, text } from "./schema/core.ts";
import { fingerprint } from "./schema/scalars.ts";
import { didYouMean } from "./suggest.ts";
import type { Station } from "./types.ts";

/**
 * A device-keys overlay: the key fingerprints of a stack's devices, in place
 * of the inventory's `stations[].device.fingerprint` (ADR 0002 says what is
 * hashed). The rehearsal writes one (`rehearsal/devices/keys.yaml`,
 * src/rehearsal/devices.ts `ensureDeviceKeys`): its devices make keys of their
 * own, while the inventory's fingerprints are production's devices'. Like the
 * pins overlay (pins.ts) it is read like an inventory file and checked against
 * the inventory it is used with: a serial the inventory does not have, or a
 * station whose device the overlay lacks, means it was written for another
 * inventory — an error, never a silent fallback to the inventory's key.
 *
 * The one home of "which key is this station's device's": the gateways'
 * links.json (the recorder refuses any other key) and the PKI's issuance (which
 * signs no other key) read it through `deviceFingerprint`.
 */
export type DeviceKeys = ReadonlyMap<string, string>;

export interface DeviceKeysResult {
  readonly file: string;
  /** serial → fingerprint; absent when the overlay has errors. */
  readonly keys?: DeviceKeys;
  readonly findings: Finding[];
}

const AGAIN = "the overlay was written for another inventory: write it again from this one (`amadegi rehearsal devices keys`)";

const entry = object(
  {
    serial: required(text({ max: 64 }), "the device's serial (the inventory's stations[].device.serial)"),
    fingerprint: required(fingerprint(), "SHA256: and the unpadded base64 SHA-256 of the device key's SubjectPublicKeyInfo (DER)"),
  },
  { id: "serial", origin: true },
);

const overlay = object({
  devices: required(list(entry), "one entry per station's device: serial and fingerprint"),
});

/** Read and check the overlay `file` against the inventory's `stations`. A missing file throws InventoryError naming it. */
export function readDeviceKeys(file: string, stations: readonly Pick<Station, "id" | "device">[]): DeviceKeysResult {
  const read = readOverlay(file, overlay, "device-keys overlay", "write it first (the rehearsal's: `amadegi rehearsal devices keys`)");
  if (!read.ok) return { file, findings: read.findings };
  const { source, value, sink } = read;

  const bySerial = new Map(stations.map((s) => [s.device.serial, s]));
  const keys = new Map<string, string>();
  for (const e of value.devices) {
    const at = (field: string) => source.at(source.find(e.origin.node, [field]));
    if (!bySerial.has(e.serial)) {
      sink.add(
        "reference.unknown",
        at("serial"),
        e.serial,
        `device ${e.serial} is no station's device in the inventory${didYouMean(e.serial, bySerial.keys())}`,
        AGAIN,
      );
    } else if (keys.has(e.serial)) {
      sink.add("uniqueness.id", at("serial"), e.serial, `device ${e.serial} is listed twice`, "keep one entry per device");
    } else keys.set(e.serial, e.fingerprint);
  }
  for (const station of stations) {
    if (!keys.has(station.device.serial)) {
      sink.add(
        "schema.missing-field",
        source.at(source.find(1, ["devices"], true)),
        station.id,
        `station ${station.id}'s device ${station.device.serial} has no key in the overlay`,
        AGAIN,
      );
    }
  }
  const findings = sortFindings(sink.close());
  if (findings.some((f) => f.severity === "error")) return { file, findings };
  return { file, keys, findings };
}

/** The key a station's device must present: the overlay's, when the stack has one, else the inventory's. */
export function deviceFingerprint(station: Pick<Station, "device">, keys: DeviceKeys | undefined): string {
  return keys?.get(station.device.serial) ?? station.device.fingerprint;
}

/** The overlay's text: one entry per device, in the order given. Values quoted as JSON (a YAML subset). */
export function deviceKeysText(devices: readonly { readonly serial: string; readonly fingerprint: string }[], header: readonly string[]): string {
  return [
    ...header.map((line) => `# ${line}`),
    devices.length === 0 ? "devices: []" : "devices:",
    ...devices.flatMap((d) => [`  - serial: ${JSON.stringify(d.serial)}`, `    fingerprint: ${JSON.stringify(d.fingerprint)}`]),
    "",
  ].join("\n");
}
