import { generateKeyPair, type KeyObject, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ToolError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { deviceKeysText, fingerprintOf, type Inventory } from "../model/index.ts";
import { ANSWERING_STATES } from "./plan.ts";

/**
 * The rehearsal's station devices: one per station of the inventory, with the
 * serial the inventory gives it (`device.serial`, required by the schema), an
 * EC P-256 key and a certificate request (CN = serial) in the rehearsal's state
 * directory. The stack signs the requests with the rehearsal's election PKI
 * (`devices/issued/<serial>.crt`, and the authority beside them,
 * `devices/issued/ca.crt`); the responder
 * (responder.ts) then checks in for every device, over each of its links.
 *
 * Keys are kept across `down`/`up`, like the servers' host keys: a device keeps
 * its identity (and the fingerprint a gateway records) for the rehearsal's life.
 */
export interface DeviceLayout {
  readonly dir: string;
  /** Certificates the stack issued, one per serial. */
  readonly issued: string;
  /** The rehearsal CA: it signs the device certificates and the gateways' server certificates. */
  readonly ca: string;
  /** The responders' specs, logs and status files: removed by `rehearsal down`. */
  readonly run: string;
  key(serial: string): string;
  csr(serial: string): string;
  cert(serial: string): string;
  /** The device-keys overlay: each device's key fingerprint, which the rehearsal stack accepts instead of the inventory's. */
  readonly keys: string;
}

export function deviceLayout(stateDir: string): DeviceLayout {
  const dir = join(stateDir, "devices");
  const issued = join(dir, "issued");
  return {
    dir,
    issued,
    ca: join(issued, "ca.crt"),
    run: join(dir, "run"),
    keys: join(dir, "keys.yaml"),
    key: (serial) => join(dir, `${serial}.key`),
    csr: (serial) => join(dir, `${serial}.csr`),
    cert: (serial) => join(issued, `${serial}.crt`),
  };
}

/** A serial names files: letters, digits, `.`, `_`, `-`, starting with a letter or digit, at most 64. */
const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface DeviceLink {
  readonly id: string;
  readonly operator: string;
  readonly address: string;
}

export interface DevicePlan {
  readonly serial: string;
  readonly station: string;
  readonly primary: string;
  readonly secondary: string;
  /** The station's links that exist (installed or live) and have an address: those it checks in over. */
  readonly links: readonly DeviceLink[];
}

/** Every station's device, in inventory order; findings for serials that cannot name a file or name two stations. */
export function planDevices(inventory: Inventory): { devices: DevicePlan[]; findings: string[] } {
  const findings: string[] = [];
  const seen = new Map<string, string>();
  const devices: DevicePlan[] = [];
  for (const station of inventory.stations) {
    const serial = station.device.serial;
    if (!SERIAL.test(serial)) {
      findings.push(
        `station ${station.id}: device serial ${JSON.stringify(serial)} cannot name the device's key file ` +
          `(letters, digits, . _ - only, at most 64): rename it in the inventory`,
      );
      continue;
    }
    const other = seen.get(serial);
    if (other !== undefined) {
      findings.push(`station ${station.id}: device serial ${serial} is also station ${other}'s: one device per station`);
      continue;
    }
    seen.set(serial, station.id);
    const links = station.links.flatMap((l) =>
      l.address !== undefined && ANSWERING_STATES.has(l.lifecycle.state) ? [{ id: l.id, operator: l.operator, address: l.address }] : [],
    );
    devices.push({ serial, station: station.id, primary: station.gateways.primary, secondary: station.gateways.secondary, links });
  }
  return { devices, findings };
}

// A PKCS#10 certificate request (RFC 2986) in DER, built here: node:crypto makes
// and signs with the key, and writing 1,415 requests takes well under a second,
// where one `openssl req` per device takes ~4.5 s on this machine (measured;
// docs/rehearsal.md "Devices").
function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const UTF8_STRING = 0x0c;
const BIT_STRING = 0x03;
const INTEGER_0 = Buffer.from([0x02, 0x01, 0x00]);
/** [0] IMPLICIT, empty: no attributes. */
const NO_ATTRIBUTES = Buffer.from([0xa0, 0x00]);
/** 2.5.4.3 commonName */
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
/** 1.2.840.10045.4.3.2 ecdsa-with-SHA256 */
const ECDSA_WITH_SHA256 = tlv(SEQUENCE, Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));

/** A PEM certificate request with subject CN = `commonName`, signed by `privateKey` (EC). */
export function certificationRequest(commonName: string, privateKey: KeyObject): string {
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, OID_COMMON_NAME, tlv(UTF8_STRING, Buffer.from(commonName, "utf8")))));
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const info = tlv(SEQUENCE, INTEGER_0, subject, spki, NO_ATTRIBUTES);
  const signature = sign("sha256", info, privateKey);
  const der = tlv(SEQUENCE, info, ECDSA_WITH_SHA256, tlv(BIT_STRING, Buffer.from([0]), signature));
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`;
}

const generate = promisify(generateKeyPair);

export interface KeysResult {
  /** New key and request. */
  readonly created: number;
  /** A request made again for a kept key (the request was missing). */
  readonly requests: number;
  readonly kept: number;
  readonly elapsedMs: number;
}

async function readKey(file: string): Promise<KeyObject> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(file));
  } catch (error) {
    throw new ToolError(`${file} is not a readable private key: ${error instanceof Error ? error.message : String(error)}`, {
      hint: `delete ${file} (and its .csr) to make the device a new key`,
      file,
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new ToolError(`${file} is not an EC P-256 key`, { hint: `delete ${file} (and its .csr) to make the device a new key`, file });
  }
  return key;
}

const KEYS_HEADER = [
  "Written by `amadegi rehearsal devices keys` (and `devices start`). Never commit it.",
  "The rehearsal's devices make their own keys (devices/<serial>.key): for the rehearsal stack these",
  "fingerprints replace the inventory's stations[].device.fingerprint, which belong to production's devices.",
];

/** A device key's fingerprint (ADR 0002): SHA-256 over its public key's SubjectPublicKeyInfo DER. */
export function keyFingerprint(key: KeyObject): string {
  return fingerprintOf(createPublicKey(key).export({ type: "spki", format: "der" }));
}

/** How many devices are worked on at once: key generation runs on libuv's thread pool. */
const BATCH = 32;

/**
 * A key (`<serial>.key`, 0600) and a request (`<serial>.csr`) for each serial,
 * in `<state>/devices/`, and the device-keys overlay `<state>/devices/keys.yaml`
 * with every one's fingerprint (src/model/devicekeys.ts). Idempotent: a device that has both is left alone; one
 * whose request is missing gets a new request for its kept key. Each file is
 * written whole (temporary sibling, then rename), key before request, so a
 * request on disk always has its key.
 */
export async function ensureDeviceKeys(stateDir: string, serials: readonly string[]): Promise<KeysResult> {
  const started = Date.now();
  const layout = deviceLayout(stateDir);
  const bad = serials.filter((s) => !SERIAL.test(s));
  if (bad.length > 0)
    throw new ToolError(
      `device serials that cannot name a file: ${bad
        .slice(0, 5)
        .map((s) => JSON.stringify(s))
        .join(", ")}`,
      { hint: "letters, digits, . _ - only (amadegi validate)" },
    );
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  let created = 0;
  let requests = 0;
  let kept = 0;
  const fingerprints = new Map<string, string>();
  const one = async (serial: string): Promise<void> => {
    const keyFile = layout.key(serial);
    const csrFile = layout.csr(serial);
    const hasKey = existsSync(keyFile);
    let key: KeyObject;
    if (hasKey && existsSync(csrFile)) {
      key = await readKey(keyFile);
      kept += 1;
    } else if (hasKey) {
      key = await readKey(keyFile);
      requests += 1;
      await writeFileAtomic(csrFile, certificationRequest(serial, key), 0o644);
    } else {
      ({ privateKey: key } = await generate("ec", { namedCurve: "P-256" }));
      await writeFileAtomic(keyFile, key.export({ type: "pkcs8", format: "pem" }), 0o600);
      created += 1;
      await writeFileAtomic(csrFile, certificationRequest(serial, key), 0o644);
    }
    fingerprints.set(serial, keyFingerprint(key));
  };
  for (let i = 0; i < serials.length; i += BATCH) await Promise.all(serials.slice(i, i + BATCH).map(one));
  // The device-keys overlay the rehearsal stack reads (amadegi:devices.keys): these keys, not the inventory's.
  const overlay = serials.map((serial) => ({ serial, fingerprint: fingerprints.get(serial) ?? "" }));
  await writeFileAtomic(layout.keys, deviceKeysText(overlay, KEYS_HEADER), 0o644);
  return { created, requests, kept, elapsedMs: Date.now() - started };
}
