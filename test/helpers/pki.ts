// Certificates for the TLS and HTTPS probe tests, made with the openssl CLI
// into a temp dir: the election CA, a foreign CA, and leaves that are good,
// expired, foreign-signed, or for another name; plus client certificates.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Pki {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  readonly foreignCaFile: string;
  /** For `name`, signed by the election CA, 30 days. */
  readonly good: Leaf;
  /** For `name`, signed by the election CA, expired in 2021. */
  readonly expired: Leaf;
  /** For `name`, signed by the foreign CA. */
  readonly foreign: Leaf;
  /** For another name, signed by the election CA. */
  readonly wrongName: Leaf;
  /** A client certificate from the election CA, and one from the foreign CA. */
  readonly client: Leaf;
  readonly foreignClient: Leaf;
  /** The election CA's CRL (nothing revoked), as the gateways load it (TLS_FILES.devicesCrl). */
  readonly crlFile: string;
  remove(): Promise<void>;
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/**
 * A self-signed certificate (CN=unit, two days) and its key, as one PEM text: what the PKI's
 * commands print (`splitIssued`), for the program's tests under Pulumi's mocks.
 */
export async function certAndKeyPem(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-t-ca-"));
  try {
    await run("openssl", ["req", "-x509", ...KEY, "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-subj", "/CN=unit", "-days", "2"]);
    return (await readFile(join(dir, "c"), "utf8")) + (await readFile(join(dir, "k"), "utf8"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await run("openssl", [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.pem`),
    "-days",
    "365",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  // `openssl ca` (the only way to back-date a certificate in OpenSSL 3.0) needs a tiny database.
  await writeFile(join(dir, `${name}.index`), "");
  await writeFile(
    join(dir, `${name}.cnf`),
    [
      "[ca]",
      `default_ca = ${name}`,
      `[${name}]`,
      `database = ${join(dir, `${name}.index`)}`,
      `new_certs_dir = ${dir}`,
      `certificate = ${join(dir, `${name}.pem`)}`,
      `private_key = ${join(dir, `${name}.key`)}`,
      `serial = ${join(dir, `${name}.serial`)}`,
      "default_md = sha256",
      "policy = any",
      "unique_subject = no",
      "copy_extensions = none",
      "[any]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, `${name}.serial`), "1000\n");
}

async function makeLeaf(
  dir: string,
  ca: string,
  file: string,
  cn: string,
  usage: "serverAuth" | "clientAuth",
  dates?: { start: string; end: string },
): Promise<Leaf> {
  const keyFile = join(dir, `${file}.key`);
  const certFile = join(dir, `${file}.pem`);
  await run("openssl", ["req", "-new", ...KEY, "-keyout", keyFile, "-out", join(dir, `${file}.csr`), "-subj", `/CN=${cn}`]);
  await writeFile(join(dir, `${file}.ext`), `basicConstraints=CA:FALSE\nextendedKeyUsage=${usage}\nsubjectAltName=DNS:${cn}\n`);
  const window = dates === undefined ? ["-days", "30"] : ["-startdate", dates.start, "-enddate", dates.end];
  await run("openssl", [
    "ca",
    "-batch",
    "-notext",
    "-config",
    join(dir, `${ca}.cnf`),
    "-in",
    join(dir, `${file}.csr`),
    "-out",
    certFile,
    "-extfile",
    join(dir, `${file}.ext`),
    ...window,
  ]);
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}

export async function makePki(name: string): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-t-pki-"));
  await makeCa(dir, "ca-election", "Amadegi Test Election CA");
  await makeCa(dir, "ca-foreign", "Some Other CA");
  // One at a time: `openssl ca` updates its database and serial file.
  const good = await makeLeaf(dir, "ca-election", "good", name, "serverAuth");
  const expired = await makeLeaf(dir, "ca-election", "expired", name, "serverAuth", { start: "20200101000000Z", end: "20210101000000Z" });
  const foreign = await makeLeaf(dir, "ca-foreign", "foreign", name, "serverAuth");
  const wrongName = await makeLeaf(dir, "ca-election", "wrongname", `other.${name}`, "serverAuth");
  const client = await makeLeaf(dir, "ca-election", "client", "DEV-0001", "clientAuth");
  const foreignClient = await makeLeaf(dir, "ca-foreign", "fclient", "DEV-9999", "clientAuth");
  const crlFile = join(dir, "ca-election.crl");
  await run("openssl", ["ca", "-batch", "-gencrl", "-config", join(dir, "ca-election.cnf"), "-crldays", "30", "-out", crlFile]);
  return {
    crlFile,
    dir,
    caFile: join(dir, "ca-election.pem"),
    ca: await readFile(join(dir, "ca-election.pem")),
    foreignCaFile: join(dir, "ca-foreign.pem"),
    good,
    expired,
    foreign,
    wrongName,
    client,
    foreignClient,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
