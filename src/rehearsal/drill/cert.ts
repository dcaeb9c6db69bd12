import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolError } from "../../lib/errors.ts";
import { run } from "../../toolchain/inspect.ts";
import { PKI_FILES, rooted } from "../../model/render/index.ts";

/**
 * The cert-expiring drill serves, for its duration, a certificate the
 * election CA issues that expires before election day: the devices still
 * trust it (it is valid today), and the campaign's expiry condition must
 * catch it. The CA's key lives only on the inventory's `pki` server (ADR
 * 0008); in the rehearsal that server's root is a directory on this machine,
 * so the drill reads the key there — as an operator logged in to the pki
 * server would — keeps it in memory, and puts it on disk only in a private
 * directory for the one `openssl x509 -req` that signs, then removes it. It
 * is never printed.
 */
export interface Authority {
  readonly certPem: string;
  readonly keyPem: string;
}

/** The election CA kept under the rehearsal `pki` server's root `pkiRoot`, if its certificate is `caPem` (the one the campaign trusts). */
export async function rehearsalAuthority(pkiRoot: string, caPem: string): Promise<Authority> {
  const dir = rooted({ root: pkiRoot, environment: "rehearsal", address: "" }, PKI_FILES.dir);
  const [certPem, keyPem] = await Promise.all([readFile(join(dir, "ca.crt"), "utf8"), readFile(join(dir, "ca.key"), "utf8")]).catch(() => [
    undefined,
    undefined,
  ]);
  if (certPem === undefined || keyPem === undefined)
    throw new ToolError(`the rehearsal's pki server holds no election CA under ${dir}`, { hint: "run the stack's `amadegi up`: it makes the CA there" });
  if (new X509Certificate(certPem).fingerprint256 !== new X509Certificate(caPem).fingerprint256)
    throw new ToolError(`the election CA on the rehearsal's pki server (${dir}) is not the one the campaign trusts`, {
      hint: "run `amadegi up` for the stack again: its CA and the probe's ca file differ",
    });
  return { certPem, keyPem };
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const result = await run("openssl", args, { cwd, timeoutMs: 30_000 });
  if (result.code !== 0)
    throw new ToolError(`openssl ${args[0] ?? ""} failed: ${(result.error ?? result.stderr).trim().split("\n").slice(-2).join(" ")}`, {
      hint: "install openssl (amadegi doctor)",
    });
}

/**
 * A key and a server certificate for `server` in `dir` (`server.key`,
 * `server.crt` with the CA after it), signed by `authority`, valid from now
 * until the end of day `notAfter` (ISO date).
 */
export async function issueExpiring(
  authority: Authority,
  dir: string,
  server: string,
  address: string,
  names: readonly string[],
  notAfter: string,
): Promise<void> {
  // -days counts from now: round down, so the certificate ends on notAfter at the latest.
  const days = Math.max(1, Math.floor((Date.parse(`${notAfter}T23:59:59Z`) - Date.now()) / 86_400_000));
  const secret = await mkdtemp(join(tmpdir(), "amadegi-drill-ca-"));
  try {
    await writeFile(join(secret, "ca.key"), authority.keyPem, { mode: 0o600 });
    await writeFile(join(secret, "ca.crt"), authority.certPem);
    const san = [`IP:${address}`, ...names.map((n) => `DNS:${n}`)].join(",");
    await writeFile(
      join(secret, "ext.cnf"),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    );
    await openssl(
      [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(dir, "server.key"),
        "-out",
        "leaf.csr",
        "-subj",
        `/CN=${server}`,
      ],
      secret,
    );
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
        `0x${Date.now().toString(16)}`,
        "-days",
        String(days),
        "-extfile",
        "ext.cnf",
        "-out",
        "leaf.crt",
      ],
      secret,
    );
    await writeFile(join(dir, "server.crt"), `${(await readFile(join(secret, "leaf.crt"), "utf8")).trim()}\n${authority.certPem.trim()}\n`, { mode: 0o644 });
  } finally {
    await rm(secret, { recursive: true, force: true });
  }
}
