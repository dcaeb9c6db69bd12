import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { digestFiles, writeFileAtomicSync } from "../lib/fs.ts";
import { type RevocationManifest, REVOKED_MARK, revokedLines, revokedSerials } from "./revocation.ts";
import { commandConnection } from "./server.ts";
import { knownHostsLine, type PinnedHost, pinnedSshArgv, shellQuote } from "../toolchain/ssh.ts";
import {
  authorityDeleteScript,
  authorityScript,
  crlScript,
  DEVICES_DELETE_SCRIPT,
  devicesScript,
  devicesSignScript,
  LOCAL_FILE_DELETE_SCRIPT,
  LOCAL_FILE_SCRIPT,
  pemBlock,
  type PkiPlace,
  serverCertScript,
  splitIssued,
} from "./scripts.ts";

/** The inventory's `pki` server, where the issuing CA's key is made and stays (ADR 0008). */
export interface PkiServer extends PkiPlace {
  /** How it is reached: address, port, user and pinned host key. */
  readonly host: PinnedHost;
  /** The login key's content, a secret (as every server's connection has it). */
  readonly privateKey: pulumi.Output<string>;
}

/** How long the devices' ssh to the `pki` server may take to connect. */
const CONNECT_TIMEOUT_MS = 30_000;

export interface PkiArgs {
  /** Where the authority lives and signs. */
  readonly server: PkiServer;
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
 * A `remote.Command` on the `pki` server whose stdout carries a server's new private key: a secret
 * output, and never logged. The key exists on disk only in the script's private temporary directory.
 */
function issuing(name: string, args: command.remote.CommandArgs, parent: pulumi.Resource): IssuedPair {
  const run = new command.remote.Command(name, { ...args, logging: "none" }, { parent, additionalSecretOutputs: ["stdout"] });
  const pair = run.stdout.apply((out) => splitIssued(name, out));
  return { certPem: pulumi.unsecret(pair.apply((p) => p.certPem)), keyPem: pulumi.secret(pair.apply((p) => p.keyPem)) };
}

/**
 * The election PKI (component `amadegi:pki:Pki`), an issuing CA on the inventory's `pki` server
 * (ADR 0008): its key is made there by a `remote.Command` and never leaves it; the gateways'
 * certificates and the CRL are signed there; the devices' requests travel there and their
 * certificates back over one ssh from this machine. The state holds the authority's certificate,
 * each gateway's certificate and key (a secret: it goes to its gateway), and no key of the CA.
 */
export class Pki extends pulumi.ComponentResource {
  public readonly caCert: pulumi.Output<string>;
  public readonly caNotAfter: pulumi.Output<string>;
  public readonly certificates: ReadonlyMap<string, IssuedPair>;
  /** How many device certificates there are. */
  public readonly devices: pulumi.Output<number>;
  /** The authority's CRL (PEM), which every gateway loads; made again when a revocation or the authority changes. */
  public readonly crl: pulumi.Output<string>;
  /** The device requests refused (the first 100: serial -> "reason: detail") and how many in all. */
  public readonly refused: pulumi.Output<{ readonly count: number; readonly serials: Readonly<Record<string, string>> }>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("amadegi:pki:Pki", name, {}, opts);
    const place: PkiPlace = { root: args.server.root, epoch: args.server.epoch };
    const { host } = args.server;
    const connection = commandConnection(host, args.server.privateKey);
    const authority = new command.remote.Command(
      `${name}-ca`,
      { connection, create: authorityScript(place, args.commonName, args.validUntil), delete: authorityDeleteScript(place), logging: "stderr" },
      { parent: this },
    );
    this.caCert = authority.stdout.apply((out) => certificateOf(`${name}-ca`, out));
    // Each command that signs names the authority's certificate: a new authority signs everything again.
    const authorityId = this.caCert.apply((pem) => createHash("sha256").update(pem).digest("hex"));
    this.caNotAfter = this.caCert.apply((pem) => new Date(new X509Certificate(pem).validTo).toISOString());
    // The CRL first, and the signer, which gets the same revoked devices with the requests, issues none of them a
    // certificate (ADR 0021): so the CRL needs no issuance of this run, and the gateways, which start with it, need not
    // wait for the devices' signing.
    const crl = new command.remote.Command(
      `${name}-crl`,
      {
        connection,
        create: authorityId.apply((id) => crlScript(place, args.validUntil, id)),
        stdin: `${REVOKED_MARK}\n${revokedLines(args.revoked ?? [])}`,
        logging: "stderr",
      },
      { parent: this, dependsOn: [authority] },
    );
    const requests = args.devices === undefined ? { digest: "", count: 0 } : digestFiles(args.devices.requests, ".csr");
    if (args.devices !== undefined && requests.count > 0) {
      const declared = declaredFile(args.devices.issued, args.devices.declared, !pulumi.runtime.isDryRun());
      const sign = `sh -c ${shellQuote(devicesSignScript(place, args.validUntil, declared.sha256))}`;
      const devices = new command.local.Command(
        `${name}-devices`,
        {
          create: devicesScript(pinnedSshArgv(host, "known_hosts", sign, { identityFile: "login_key", timeoutMs: CONNECT_TIMEOUT_MS }), knownHostsLine(host)),
          delete: DEVICES_DELETE_SCRIPT,
          environment: {
            AMADEGI_REQUESTS: args.devices.requests,
            AMADEGI_ISSUED: args.devices.issued,
            AMADEGI_DECLARED: declared.path,
            AMADEGI_REVOKED: revokedSerials(args.revoked ?? []),
            AMADEGI_UNTIL: args.validUntil,
            AMADEGI_DIGEST: requests.digest,
            AMADEGI_AUTHORITY: authorityId,
            AMADEGI_SSH_KEY: args.server.privateKey,
          },
          logging: "stderr",
        },
        { parent: this, dependsOn: [authority, crl] },
      );
      const summary = devices.stdout.apply(parseDevices);
      this.devices = summary.apply((s) => s.certificates);
      this.refused = summary.apply((s) => ({ count: s.refusedCount, serials: s.refused }));
    } else {
      this.devices = pulumi.output(0);
      const none: Readonly<Record<string, string>> = {};
      this.refused = pulumi.output(0).apply((count) => ({ count, serials: none }));
    }
    this.certificates = new Map(
      args.servers.map((s) => [
        s.id,
        issuing(
          `${name}-${s.id}`,
          {
            connection,
            create: authorityId.apply((id) =>
              serverCertScript(place, id, s.names[0] ?? s.id, [`IP:${s.address}`, ...s.names.map((n) => `DNS:${n}`)].join(","), args.validUntil),
            ),
          },
          this,
        ),
      ]),
    );
    if (args.caFile !== undefined)
      new command.local.Command(
        `${name}-ca-file`,
        { create: LOCAL_FILE_SCRIPT, delete: LOCAL_FILE_DELETE_SCRIPT, stdin: this.caCert, environment: { AMADEGI_PATH: args.caFile } },
        { parent: this },
      );
    this.crl = crl.stdout.apply((out) => {
      const pem = pemBlock("X509 CRL", out);
      if (pem === undefined) throw new Error(`${name}-crl: openssl printed no CRL`);
      return pem;
    });
    this.registerOutputs({ caCert: this.caCert, caNotAfter: this.caNotAfter, devices: this.devices, refused: this.refused, crl: this.crl });
  }
}

/** The authority's certificate from its command's output; throws naming the command if there is none. */
function certificateOf(what: string, stdout: string): string {
  const pem = pemBlock("CERTIFICATE", stdout);
  if (pem === undefined) throw new Error(`${what}: the pki server printed no certificate`);
  return pem;
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
  if (write && readIfThere(path) !== content) writeFileAtomicSync(path, content);
  return { path, sha256 };
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
