import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import type { FilesInputs, FilesState } from "./remote/files.ts";

/**
 * The resources the stack manages, as Pulumi dynamic providers (ADR 0006).
 *
 * The command provider (`@pulumi/command`) cannot be built on these machines
 * (ADR 0003: the Go module proxy refuses it), so the two things the stack does
 * to the world — files and services on a server over SSH, and certificates
 * made with openssl — are dynamic providers run by the engine's own
 * `pulumi-resource-pulumi-nodejs`. Each provider is a thin shell: the engine
 * serialises it with the module path it captures, and its methods load the
 * real work (remote/files.ts, pki/openssl.ts) with `require` (Node loads ES
 * modules that way; a literal `import()` would be rewritten by test runners
 * and could not be serialised) — plain modules with tests of their own. Unlike the command provider, a provider here has the state it
 * wrote (hashes), which drift compares with what the server shows.
 */
const FILES = fileURLToPath(new URL("./remote/files.ts", import.meta.url));
const PKI = fileURLToPath(new URL("./pki/openssl.ts", import.meta.url));
const DIFF = fileURLToPath(new URL("./diff.ts", import.meta.url));
const LIB_FS = fileURLToPath(new URL("../lib/fs.ts", import.meta.url));

const filesProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: FilesState, news: FilesInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(DIFF)(DIFF);
    return m.diffFiles(olds, news);
  },
  async create(inputs: FilesInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(FILES)(FILES);
    const outs = await m.applyFiles(inputs);
    return { id: `${inputs.server}/${inputs.role}`, outs };
  },
  async update(_id: string, olds: FilesState, news: FilesInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(FILES)(FILES);
    return { outs: await m.applyFiles(news, olds) };
  },
  async delete(_id: string, olds: FilesState) {
    const m = process.getBuiltinModule("node:module").createRequire(FILES)(FILES);
    await m.removeFiles(olds);
  },
};

export type FilesArgs = { [K in keyof FilesInputs]: pulumi.Input<FilesInputs[K]> };

/** Files (and the services reading them) of one role on one server. */
export class ServerFiles extends pulumi.dynamic.Resource {
  declare public readonly hashes: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: FilesArgs, opts?: pulumi.CustomResourceOptions) {
    // The same paths on the same server: remove the old before writing the new.
    super(filesProvider, name, { ...args, hashes: undefined }, { ...opts, deleteBeforeReplace: true });
  }
}

interface AuthorityInputs {
  readonly commonName: string;
  readonly validUntil: string;
}

const authorityProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: AuthorityInputs, news: AuthorityInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(DIFF)(DIFF);
    return m.diffFields(olds, news, ["commonName", "validUntil"]);
  },
  async create(inputs: AuthorityInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(PKI)(PKI);
    const issued = await m.createAuthority(inputs.commonName, inputs.validUntil);
    return { id: issued.fingerprint, outs: { ...inputs, ...issued } };
  },
};

/** The election's certificate authority. Its key is a secret output, kept encrypted in the stack's state. */
export class CertificateAuthority extends pulumi.dynamic.Resource {
  declare public readonly certPem: pulumi.Output<string>;
  declare public readonly keyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;
  declare public readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: { commonName: pulumi.Input<string>; validUntil: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(
      authorityProvider,
      name,
      { ...args, certPem: undefined, keyPem: undefined, notAfter: undefined, fingerprint: undefined },
      { ...opts, additionalSecretOutputs: ["keyPem"] },
    );
  }
}

interface CertificateInputs {
  readonly authorityCert: string;
  readonly authorityKey: string;
  readonly commonName: string;
  readonly addresses: readonly string[];
  readonly names: readonly string[];
  readonly validUntil: string;
}

const certificateProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: CertificateInputs, news: CertificateInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(DIFF)(DIFF);
    return m.diffFields(olds, news, ["authorityCert", "commonName", "addresses", "names", "validUntil"]);
  },
  async create(inputs: CertificateInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(PKI)(PKI);
    const issued = await m.issueServer(
      { certPem: inputs.authorityCert, keyPem: inputs.authorityKey },
      inputs.commonName,
      inputs.addresses,
      inputs.names,
      inputs.validUntil,
    );
    return { id: issued.fingerprint, outs: { ...inputs, ...issued } };
  },
};

/** A server certificate from the authority (the gateways' HTTPS). */
export class ServerCertificate extends pulumi.dynamic.Resource {
  declare public readonly certPem: pulumi.Output<string>;
  declare public readonly keyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof CertificateInputs]: pulumi.Input<CertificateInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(
      certificateProvider,
      name,
      { ...args, certPem: undefined, keyPem: undefined, notAfter: undefined, fingerprint: undefined },
      { ...opts, additionalSecretOutputs: ["keyPem", "authorityKey"] },
    );
  }
}

interface DeviceInputs {
  readonly authorityCert: string;
  readonly authorityKey: string;
  readonly requests: string;
  readonly outDir: string;
  readonly validUntil: string;
  /** sha256 over the requests' names and contents: a new or changed request re-signs. */
  readonly digest: string;
}

const devicesProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: DeviceInputs, news: DeviceInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(DIFF)(DIFF);
    return m.diffWithFiles(
      olds,
      news,
      ["authorityCert", "requests", "outDir", "validUntil", "digest"],
      ["authorityCert", "outDir"],
      [m.issuedMarker(news.outDir)],
    );
  },
  async create(inputs: DeviceInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(PKI)(PKI);
    const serials: string[] = await m.signRequests(
      { certPem: inputs.authorityCert, keyPem: inputs.authorityKey },
      inputs.requests,
      inputs.outDir,
      inputs.validUntil,
    );
    return { id: inputs.outDir, outs: { ...inputs, devices: serials.length } };
  },
  async update(_id: string, _olds: DeviceInputs, news: DeviceInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(PKI)(PKI);
    const serials: string[] = await m.signRequests({ certPem: news.authorityCert, keyPem: news.authorityKey }, news.requests, news.outDir, news.validUntil);
    return { outs: { ...news, devices: serials.length } };
  },
  async delete(_id: string, olds: DeviceInputs) {
    const fs = process.getBuiltinModule("node:fs");
    fs.rmSync(olds.outDir, { recursive: true, force: true });
  },
};

/**
 * Client certificates for the devices, signed from the requests they made
 * (`<requests>/<serial>.csr`; the keys never leave the devices), written to
 * `outDir` for them to pick up.
 */
export class DeviceCertificates extends pulumi.dynamic.Resource {
  declare public readonly devices: pulumi.Output<number>;

  constructor(name: string, args: { [K in keyof DeviceInputs]: pulumi.Input<DeviceInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(devicesProvider, name, { ...args, devices: undefined }, { ...opts, additionalSecretOutputs: ["authorityKey"] });
  }
}

interface LocalFileInputs {
  readonly path: string;
  readonly content: string;
}

const localFileProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: LocalFileInputs, news: LocalFileInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(DIFF)(DIFF);
    return m.diffWithFiles(olds, news, ["path", "content"], ["path"], [news.path]);
  },
  async create(inputs: LocalFileInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(LIB_FS)(LIB_FS);
    await m.writeFileAtomic(inputs.path, inputs.content);
    return { id: inputs.path, outs: inputs };
  },
  async update(_id: string, _olds: LocalFileInputs, news: LocalFileInputs) {
    const m = process.getBuiltinModule("node:module").createRequire(LIB_FS)(LIB_FS);
    await m.writeFileAtomic(news.path, news.content);
    return { outs: news };
  },
  async delete(_id: string, olds: LocalFileInputs) {
    const fs = process.getBuiltinModule("node:fs");
    fs.rmSync(olds.path, { force: true });
  },
};

/** A public file on the machine that runs the stack (the authority's certificate, for `check` to trust). Never a secret. */
export class LocalFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: pulumi.Input<string>; content: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(localFileProvider, name, args, opts);
  }
}
