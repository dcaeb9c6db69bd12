import * as pulumi from "@pulumi/pulumi";
import { digestFiles } from "../lib/fs.ts";
import { CertificateAuthority, DeviceCertificates, LocalFile, ServerCertificate } from "./dynamic.ts";

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
}

/**
 * The election PKI (component `amadegi:pki:Pki`): one authority, a server
 * certificate per gateway, and the devices' client certificates signed from
 * their requests. The authority's key is a secret in the stack's state and
 * is never written to a server.
 */
export class Pki extends pulumi.ComponentResource {
  public readonly caCert: pulumi.Output<string>;
  public readonly caNotAfter: pulumi.Output<string>;
  public readonly certificates: ReadonlyMap<string, ServerCertificate>;
  public readonly devices: pulumi.Output<number>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("amadegi:pki:Pki", name, {}, opts);
    const authority = new CertificateAuthority(`${name}-ca`, { commonName: args.commonName, validUntil: args.validUntil }, { parent: this });
    this.caCert = authority.certPem;
    this.caNotAfter = authority.notAfter;
    this.certificates = new Map(
      args.servers.map((s) => [
        s.id,
        new ServerCertificate(
          `${name}-${s.id}`,
          {
            authorityCert: authority.certPem,
            authorityKey: authority.keyPem,
            commonName: s.names[0] ?? s.id,
            addresses: [s.address],
            names: s.names,
            validUntil: args.validUntil,
          },
          { parent: this },
        ),
      ]),
    );
    if (args.caFile !== undefined) new LocalFile(`${name}-ca-file`, { path: args.caFile, content: authority.certPem }, { parent: this });
    const requests = args.devices === undefined ? { digest: "", count: 0 } : digestFiles(args.devices.requests, ".csr");
    if (args.devices !== undefined && requests.count > 0) {
      const devices = new DeviceCertificates(
        `${name}-devices`,
        {
          authorityCert: authority.certPem,
          authorityKey: authority.keyPem,
          requests: args.devices.requests,
          outDir: args.devices.issued,
          validUntil: args.validUntil,
          digest: requests.digest,
        },
        { parent: this },
      );
      this.devices = devices.devices;
    } else {
      this.devices = pulumi.output(0);
    }
    this.registerOutputs({ caCert: this.caCert, caNotAfter: this.caNotAfter, devices: this.devices });
  }
}
