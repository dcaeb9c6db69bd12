import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { digestFiles, temporarySibling } from "../lib/fs.ts";
import { type RevocationManifest, REVOKED_MARK, revokedLines } from "./revocation.ts";
import {
  AUTHORITY_SCRIPT,
  CRL_SCRIPT,
  DEVICES_DELETE_SCRIPT,
  DEVICES_SCRIPT,
  LOCAL_FILE_DELETE_SCRIPT,
  LOCAL_FILE_SCRIPT,
  SERVER_CERT_SCRIPT,
  splitIssued,
} from "./scripts.ts";

export interface PkiArgs {
  /** The CA's name, e.g. "amadegi rehearsal election CA". */
  readonly commonName: string;
  /** Every certificate is valid until this ISO date (election day plus the margin). */
  readonly validUntil: string;
  /** Gateways to issue server certificates for: id, address, DNS names. */
  readonly servers: readonly { readonly id: string; readonly address: string; readonly names: readonly string[] }[];
  /**
   * Where devices leave their requests (`<serial>.csr`) and pick up their certificates, and the
   * devices the inventory declares (serial -> SHA256 fingerprint of its key): only their requests,
   * with their keys, are signed. Absent: no device certificates.
   */
  readonly devices?: {
    readonly requests: string;
    readonly issued: string;
    readonly declared: readonly { readonly serial: string; readonly fingerprint: string }[];
  };
  /** Where to leave the authority's certificate on this machine (for `check` to trust: amadegi:probe.ca). */
  readonly caFile?: string;
  /** The devices the committee revoked (src/provision/revocation.ts): every certificate issued to them goes on the CRL. */
  readonly revoked?: readonly Pick<RevocationManifest, "device" | "reason" | "time">[];
}

/** A certificate and its key, the key a secret. */
export interface IssuedPair {
  readonly certPem: pulumi.Output<string>;
  readonly keyPem: pulumi.Output<string>;
}

/**
 * A `local.Command` whose stdout carries a private key: a secret output, and never logged.
 * The key exists on disk only in the script's private temporary directory.
 */
function issuing(name: string, args: command.local.CommandArgs, parent: pulumi.Resource): IssuedPair {
  const run = new command.local.Command(name, { ...args, logging: "none" }, { parent, additionalSecretOutputs: ["stdout"] });
  const pair = run.stdout.apply((out) => splitIssued(name, out));
  return { certPem: pulumi.unsecret(pair.apply((p) => p.certPem)), keyPem: pulumi.secret(pair.apply((p) => p.keyPem)) };
}

/**
 * The election PKI (component `amadegi:pki:Pki`), made with openssl on the machine that runs the
 * stack by `local.Command`s (ADR 0007): one authority, a server certificate per gateway, and the
 * devices' client certificates signed from their requests. Keys leave a command only on its stdout
 * (a secret output) and enter one only on its stdin (a secret input): the state holds them
 * encrypted, and the authority's key is never written to a server.
 */
export class Pki extends pulumi.ComponentResource {
  public readonly caCert: pulumi.Output<string>;
  public readonly caNotAfter: pulumi.Output<string>;
  public readonly certificates: ReadonlyMap<string, IssuedPair>;
  /** How many device certificates there are. */
  public readonly devices: pulumi.Output<number>;
  /** The authority's CRL (PEM), which every gateway loads; made again when a revocation or the issued certificates change. */
  public readonly crl: pulumi.Output<string>;
  /** The device requests refused (the first 100: serial -> "reason: detail") and how many in all. */
  public readonly refused: pulumi.Output<{ readonly count: number; readonly serials: Readonly<Record<string, string>> }>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("amadegi:pki:Pki", name, {}, opts);
    const authority = issuing(`${name}-ca`, { create: AUTHORITY_SCRIPT, environment: { AMADEGI_CN: args.commonName, AMADEGI_UNTIL: args.validUntil } }, this);
    // The authority's certificate and key, as the signing commands read them on stdin.
    const signer = pulumi.secret(pulumi.all([authority.certPem, authority.keyPem]).apply(([cert, key]) => cert + key));
    this.caCert = authority.certPem;
    this.caNotAfter = authority.certPem.apply((pem) => new Date(new X509Certificate(pem).validTo).toISOString());
    this.certificates = new Map(
      args.servers.map((s) => [
        s.id,
        issuing(
          `${name}-${s.id}`,
          {
            create: SERVER_CERT_SCRIPT,
            stdin: signer,
            environment: {
              AMADEGI_CN: s.names[0] ?? s.id,
              AMADEGI_SAN: [`IP:${s.address}`, ...s.names.map((n) => `DNS:${n}`)].join(","),
              AMADEGI_UNTIL: args.validUntil,
            },
          },
          this,
        ),
      ]),
    );
    if (args.caFile !== undefined)
      new command.local.Command(
        `${name}-ca-file`,
        { create: LOCAL_FILE_SCRIPT, delete: LOCAL_FILE_DELETE_SCRIPT, stdin: authority.certPem, environment: { AMADEGI_PATH: args.caFile } },
        { parent: this },
      );
    const requests = args.devices === undefined ? { digest: "", count: 0 } : digestFiles(args.devices.requests, ".csr");
    let devicesCommand: command.local.Command | undefined;
    if (args.devices !== undefined && requests.count > 0) {
      const declared = declaredFile(args.devices.issued, args.devices.declared, !pulumi.runtime.isDryRun());
      const devices = new command.local.Command(
        `${name}-devices`,
        {
          create: DEVICES_SCRIPT,
          delete: DEVICES_DELETE_SCRIPT,
          stdin: signer,
          environment: {
            AMADEGI_REQUESTS: args.devices.requests,
            AMADEGI_ISSUED: args.devices.issued,
            AMADEGI_DECLARED: declared.path,
            AMADEGI_DECLARED_SHA256: declared.sha256,
            AMADEGI_UNTIL: args.validUntil,
            AMADEGI_DIGEST: requests.digest,
          },
          logging: "stderr",
        },
        { parent: this },
      );
      const summary = devices.stdout.apply(parseDevices);
      this.devices = summary.apply((s) => s.certificates);
      this.refused = summary.apply((s) => ({ count: s.refusedCount, serials: s.refused }));
      devicesCommand = devices;
    } else {
      this.devices = pulumi.output(0);
      const none: Readonly<Record<string, string>> = {};
      this.refused = pulumi.output(0).apply((count) => ({ count, serials: none }));
    }
    // The CRL: after the devices' certificates (their issuance log names what a revocation covers).
    const revoked = revokedLines(args.revoked ?? []);
    const crl = new command.local.Command(
      `${name}-crl`,
      {
        create: CRL_SCRIPT,
        stdin: pulumi.secret(signer.apply((pem) => `${pem}${REVOKED_MARK}\n${revoked}`)),
        environment: {
          AMADEGI_ISSUED: args.devices?.issued ?? "/nonexistent",
          AMADEGI_UNTIL: args.validUntil,
          // A device certificate issued again (its request changed) is covered by the next CRL.
          AMADEGI_DIGEST: requests.digest,
        },
        logging: "stderr",
      },
      { parent: this, ...(devicesCommand === undefined ? {} : { dependsOn: [devicesCommand] }) },
    );
    this.crl = pulumi.unsecret(crl.stdout).apply((out) => {
      const pem = /-----BEGIN X509 CRL-----\n[\s\S]+?\n-----END X509 CRL-----/.exec(out)?.[0];
      if (pem === undefined) throw new Error(`${name}-crl: openssl printed no CRL`);
      return `${pem}\n`;
    });
    this.registerOutputs({ caCert: this.caCert, caNotAfter: this.caNotAfter, devices: this.devices, refused: this.refused, crl: this.crl });
  }
}

/** What the device signer printed on stdout (DEVICES_SCRIPT). */
export interface DevicesSummary {
  readonly certificates: number;
  readonly signed: number;
  readonly kept: number;
  readonly removed: number;
  readonly refusedCount: number;
  readonly refused: Readonly<Record<string, string>>;
}

/** The device signer's JSON line (the last line of its stdout), or the earlier signer's count; throws on anything else. */
export function parseDevices(stdout: string): DevicesSummary {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  // The earlier signer printed only how many certificates there were: a state from before it was bound to the inventory.
  if (/^\d+$/.test(line)) return { certificates: Number(line), signed: 0, kept: Number(line), removed: 0, refusedCount: 0, refused: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`the device signer printed no summary: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const s = parsed as Partial<DevicesSummary> | null;
  const counts = [s?.certificates, s?.signed, s?.kept, s?.removed, s?.refusedCount];
  if (!counts.every((n) => typeof n === "number") || s?.refused === null || typeof s?.refused !== "object")
    throw new Error(`the device signer's summary is not {certificates, signed, kept, removed, refusedCount, refused}: ${line.slice(0, 200)}`);
  return s as DevicesSummary;
}

/**
 * The declared devices as the signer reads them: a JSON object serial -> fingerprint in serial
 * order, at `<issued>.declared.json` (beside the issued directory, which the delete script removes
 * whole). 58,640 devices are ~4 MB: too much for an environment variable or the state, so the
 * command gets the path and the content's sha256 (a change runs it again; the signer checks it).
 * Written (atomically, only when it differs) when `write`: by an up, not by a preview.
 */
export function declaredFile(
  issued: string,
  declared: readonly { readonly serial: string; readonly fingerprint: string }[],
  write: boolean,
): { path: string; sha256: string } {
  const sorted = [...declared].sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const content = `${JSON.stringify(Object.fromEntries(sorted.map((d) => [d.serial, d.fingerprint])), null, 0)}\n`;
  const path = `${issued.replace(/\/+$/, "")}.declared.json`;
  const sha256 = createHash("sha256").update(content).digest("hex");
  if (write && readIfThere(path) !== content) {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = temporarySibling(path);
    try {
      writeFileSync(temporary, content, { mode: 0o644 });
      renameSync(temporary, path);
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
  }
  return { path, sha256 };
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
