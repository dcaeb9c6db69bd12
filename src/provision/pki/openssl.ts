import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { forEachLimited } from "../../lib/pool.ts";

/**
 * The election PKI, made with the openssl CLI on the machine that runs the
 * stack: an EC P-256 authority, server certificates for the gateways, and
 * client certificates signed from the devices' own requests (their keys never
 * leave them). Keys exist on disk only in a private temporary directory for
 * the length of one openssl call; the stack keeps them as Pulumi secrets.
 * Validity is given as a date (`validUntil`, from election day plus a margin)
 * so the same inputs always mean the same certificate.
 */
const run = promisify(execFile);

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  /** ISO time. */
  readonly notAfter: string;
  /** sha256 of the certificate (DER), hex. */
  readonly fingerprint: string;
}

export interface Authority {
  readonly certPem: string;
  readonly keyPem: string;
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function days(validUntil: string): number {
  const until = Date.parse(`${validUntil}T23:59:59Z`);
  if (Number.isNaN(until)) throw new Error(`validUntil ${validUntil} is not an ISO date`);
  // Whole days from now that end on or before the date (openssl counts from now).
  const left = Math.floor((until - Date.now()) / 86_400_000);
  if (left < 1) throw new Error(`validUntil ${validUntil} has passed: no certificate is issued for a past date`);
  return left;
}

function serial(): string {
  return `0x${randomBytes(16).toString("hex")}`;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd, timeout: 60_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split("\n").slice(-2).join(" | ") ?? String(error);
    throw new Error(`openssl ${args[0] ?? ""} failed: ${stderr}`, { cause: error });
  }
}

async function inPrivateDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-pki-"));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function describe(certPem: string, keyPem: string): Issued {
  const cert = new X509Certificate(certPem);
  return { certPem, keyPem, notAfter: new Date(cert.validTo).toISOString(), fingerprint: cert.fingerprint256.replaceAll(":", "").toLowerCase() };
}

export async function createAuthority(commonName: string, validUntil: string): Promise<Issued> {
  return inPrivateDir(async (dir) => {
    await openssl(
      [
        "req",
        "-x509",
        ...KEY,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        String(days(validUntil)),
        "-subj",
        `/CN=${commonName}`,
        "-set_serial",
        serial(),
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
    return describe(await readFile(join(dir, "ca.crt"), "utf8"), await readFile(join(dir, "ca.key"), "utf8"));
  });
}

async function writeAuthority(dir: string, authority: Authority): Promise<void> {
  await writeFile(join(dir, "ca.crt"), authority.certPem);
  await writeFile(join(dir, "ca.key"), authority.keyPem, { mode: 0o600 });
}

/** A server certificate (serverAuth) for `commonName`, with its addresses and names as subjectAltName. */
export async function issueServer(
  authority: Authority,
  commonName: string,
  addresses: readonly string[],
  names: readonly string[],
  validUntil: string,
): Promise<Issued> {
  return inPrivateDir(async (dir) => {
    await writeAuthority(dir, authority);
    const san = [...addresses.map((a) => `IP:${a}`), ...names.map((n) => `DNS:${n}`)].join(",");
    await writeFile(
      join(dir, "ext.cnf"),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    );
    await openssl(["req", "-new", ...KEY, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", `/CN=${commonName}`], dir);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        serial(),
        "-days",
        String(days(validUntil)),
        "-extfile",
        "ext.cnf",
        "-out",
        "leaf.crt",
      ],
      dir,
    );
    return describe(await readFile(join(dir, "leaf.crt"), "utf8"), await readFile(join(dir, "leaf.key"), "utf8"));
  });
}

/**
 * Sign every `<serial>.csr` in `csrDir` as a client certificate (clientAuth),
 * writing `<outDir>/<serial>.crt` and `<outDir>/ca.crt`. Each request's CN
 * must equal its file's serial. Returns the serials signed, sorted.
 */
export async function signRequests(authority: Authority, csrDir: string, outDir: string, validUntil: string, parallel = 2): Promise<string[]> {
  const serials = (await readdir(csrDir))
    .filter((f) => f.endsWith(".csr"))
    .map((f) => f.slice(0, -4))
    .sort();
  await mkdir(outDir, { recursive: true });
  return inPrivateDir(async (dir) => {
    await writeAuthority(dir, authority);
    await writeFile(join(dir, "ext.cnf"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
    const span = String(days(validUntil));
    await forEachLimited(serials, parallel, async (name) => {
      const csr = join(csrDir, `${name}.csr`);
      const { stdout } = await run("openssl", ["req", "-in", csr, "-noout", "-subject", "-nameopt", "multiline"], { timeout: 30_000 });
      const cn = /commonName\s*=\s*(.+)/.exec(stdout)?.[1]?.trim();
      if (cn !== name) throw new Error(`device request ${csr}: its CN is ${cn ?? "missing"}, not ${name}; the device must make a new request`);
      await openssl(
        [
          "x509",
          "-req",
          "-in",
          csr,
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-set_serial",
          serial(),
          "-days",
          span,
          "-extfile",
          "ext.cnf",
          "-out",
          join(outDir, `.${name}.crt.new`),
        ],
        dir,
      );
      await rename(join(outDir, `.${name}.crt.new`), join(outDir, `${name}.crt`));
    });
    await writeFile(join(outDir, ".ca.crt.new"), authority.certPem);
    await rename(join(outDir, ".ca.crt.new"), join(outDir, "ca.crt"));
    return serials;
  });
}
