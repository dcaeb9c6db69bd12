import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AmadegiError } from "../lib/errors.ts";
import { type Member, signingKeys } from "../model/index.ts";
import { allowedSignersFile, signatureVerifier } from "../toolchain/sshsig.ts";

/**
 * A device's revocation (issue 17, ADR 0008): the committee's decision, signed
 * like a sign-off — a manifest the project writes (`amadegi devices revoke`),
 * signed unchanged by a committee member with `ssh-keygen -Y sign` under its
 * own namespace, so no sign-off (or any other signature) can stand for one.
 * Kept per stack in the state directory (`revocations/<stack>/`, beside the
 * approvals), where the stack's program reads them, checks each signature
 * against governance/committee.yaml, and puts every certificate ever issued to
 * a revoked device on the CRL its gateways load.
 */
export const REVOCATION_NAMESPACE = "amadegi-revocation";
const HEADER = "amadegi revocation v1";
const FIELDS = ["election", "stack", "device", "reason", "time"] as const;

/** RFC 5280 reason codes a committee gives (as `openssl ca -crl_reason` names them). */
export const REVOCATION_REASONS = ["keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified"] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface RevocationManifest {
  readonly election: string;
  readonly stack: string;
  /** The device's serial (the inventory's stations[].device.serial). */
  readonly device: string;
  readonly reason: RevocationReason;
  /** When the committee decided, ISO 8601 UTC to the second: the CRL's revocation date. */
  readonly time: string;
}

export class RevocationError extends AmadegiError {
  override readonly name = "RevocationError";
}

/** A device serial as files and the CRL's index name it (the rehearsal's rule, src/rehearsal/devices.ts). */
export const DEVICE_SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The exact bytes a member signs: fixed fields in a fixed order, one per line. */
export function renderRevocation(m: RevocationManifest): string {
  return `${HEADER}\n${FIELDS.map((f) => `${f}: ${m[f]}`).join("\n")}\n`;
}

/** Parse a manifest strictly: any other byte layout is not one the project wrote. */
export function parseRevocation(text: string): RevocationManifest {
  const lines = text.split("\n");
  if (lines[0] !== HEADER || lines.length !== FIELDS.length + 2 || lines.at(-1) !== "")
    throw new RevocationError(`not an amadegi revocation (expected "${HEADER}" and ${FIELDS.length} fields)`);
  const values = new Map<string, string>();
  FIELDS.forEach((field, i) => {
    const line = lines[i + 1] ?? "";
    if (!line.startsWith(`${field}: `)) throw new RevocationError(`line ${i + 2} should start with "${field}: "`);
    values.set(field, line.slice(field.length + 2));
  });
  const get = (f: (typeof FIELDS)[number]): string => values.get(f) ?? "";
  if (!ID.test(get("election")) || !ID.test(get("stack"))) throw new RevocationError("election or stack is not an id");
  if (!DEVICE_SERIAL.test(get("device"))) throw new RevocationError("device is not a device serial (letters, digits, . _ -)");
  const reason = get("reason");
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason))
    throw new RevocationError(`reason "${reason.slice(0, 40)}" is not one of ${REVOCATION_REASONS.join(", ")}`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(get("time")) || Number.isNaN(Date.parse(get("time"))))
    throw new RevocationError("time is not ISO 8601 UTC to the second");
  return { election: get("election"), stack: get("stack"), device: get("device"), reason: reason as RevocationReason, time: get("time") };
}

/** A revocation in force: the decision, and who signed it. */
export interface Revocation extends RevocationManifest {
  readonly member: string;
  readonly file: string;
}

export interface RevocationsRead {
  /** In force, one per device (the earliest decision), by device serial order. */
  readonly revoked: readonly Revocation[];
  /** Manifests written but not (yet) signed: not in force. */
  readonly pending: readonly string[];
  /** Files that are not a revocation in force for this stack, each with why: the caller stops. */
  readonly problems: readonly string[];
}

/**
 * The revocations in `dir` (`<device>-<time>.txt` and its `.sig`), each checked: signed under
 * the revocation namespace by a member of `committee`, for this election and stack. A missing
 * directory is no revocation. Never throws for a bad file: it is a problem, named.
 */
export async function readRevocations(
  dir: string,
  expected: { readonly committee: readonly Member[]; readonly election: string; readonly stack: string },
): Promise<RevocationsRead> {
  if (!existsSync(dir)) return { revoked: [], pending: [], problems: [] };
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".txt"))
    .sort();
  const pending: string[] = [];
  const problems: string[] = [];
  const byDevice = new Map<string, Revocation>();
  if (names.length === 0) return { revoked: [], pending, problems };
  const verifier = await signatureVerifier(allowedSignersFile(signingKeys(expected.committee), REVOCATION_NAMESPACE), REVOCATION_NAMESPACE);
  try {
    for (const name of names) {
      const file = join(dir, name);
      if (!existsSync(`${file}.sig`)) {
        pending.push(file);
        continue;
      }
      const text = readFileSync(file, "utf8");
      const signed = await verifier.verify(text, readFileSync(`${file}.sig`, "utf8"));
      if (signed.status !== "valid") {
        const why =
          signed.status === "unknown-key"
            ? "signed with a key that is not in governance/committee.yaml"
            : `${signed.member}'s signature does not verify over it under namespace ${REVOCATION_NAMESPACE} ` +
              "(changed after signing, or signed for another purpose)";
        problems.push(`${file}: ${why}`);
        continue;
      }
      let manifest: RevocationManifest;
      try {
        manifest = parseRevocation(text);
      } catch (error) {
        problems.push(`${file}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (manifest.election !== expected.election || manifest.stack !== expected.stack) {
        problems.push(`${file}: revokes for election ${manifest.election}, stack ${manifest.stack}; this is ${expected.election}, ${expected.stack}`);
        continue;
      }
      const prior = byDevice.get(manifest.device);
      if (prior === undefined || manifest.time < prior.time) byDevice.set(manifest.device, { ...manifest, member: signed.member, file });
    }
  } finally {
    await verifier.close();
  }
  const revoked = [...byDevice.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  return { revoked, pending, problems };
}

/** The lines the CRL script reads after the authority: `<device> <reason> <time>`, one per revocation. */
export function revokedLines(revoked: readonly Pick<RevocationManifest, "device" | "reason" | "time">[]): string {
  return revoked.map((r) => `${r.device} ${r.reason} ${r.time}\n`).join("");
}

/** The revoked devices' serials for the device signer, one a line, sorted (the same revocations, the same text): "" when none. */
export function revokedSerials(revoked: readonly Pick<RevocationManifest, "device">[]): string {
  return [...new Set(revoked.map((r) => r.device))]
    .sort()
    .map((device) => `${device}\n`)
    .join("");
}

/** What separates the authority's certificate and key from the revoked lines on the CRL command's stdin. */
export const REVOKED_MARK = "----- AMADEGI REVOKED -----";
