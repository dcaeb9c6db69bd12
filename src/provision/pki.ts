import { X509Certificate } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { digestFiles } from "../lib/fs.ts";
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
  /** Where devices leave their requests (`<serial>.csr`) and pick up their certificates; absent: no device certificates. */
  readonly devices?: { readonly requests: string; readonly issued: string };
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
  public readonly devices: pulumi.Output<number>;
  /** The authority's CRL (PEM), which every gateway loads; made again when a revocation or the issued certificates change. */
  public readonly crl: pulumi.Output<string>;

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
      const devices = new command.local.Command(
        `${name}-devices`,
        {
          create: DEVICES_SCRIPT,
          delete: DEVICES_DELETE_SCRIPT,
          stdin: signer,
          environment: {
            AMADEGI_REQUESTS: args.devices.requests,
            AMADEGI_ISSUED: args.devices.issued,
            AMADEGI_UNTIL: args.validUntil,
            AMADEGI_DIGEST: requests.digest,
          },
          logging: "stderr",
        },
        { parent: this },
      );
      this.devices = devices.stdout.apply((out) => Number.parseInt(out.trim().split("\n").at(-1) ?? "0", 10) || 0);
      devicesCommand = devices;
    } else {
      this.devices = pulumi.output(0);
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
    this.registerOutputs({ caCert: this.caCert, caNotAfter: this.caNotAfter, devices: this.devices, crl: this.crl });
  }
}
