import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolError } from "../../lib/errors.ts";
import { engineEnv } from "../../toolchain/env.ts";
import { run } from "../../toolchain/inspect.ts";
import { repoRoot } from "../../toolchain/paths.ts";

/**
 * The cert-expiring drill serves, for its duration, a certificate the
 * election CA issues that expires before election day: the devices still
 * trust it (it is valid today), and the campaign's expiry condition must
 * catch it. The CA's key exists only in the stack's state (a secret, ADR
 * 0007), so it is read from there with `pulumi stack export --show-secrets`,
 * kept in memory, and put on disk only in a private directory for the one
 * `openssl x509 -req` that signs — then removed. It is never printed.
 */
export interface Authority {
  readonly certPem: string;
  readonly keyPem: string;
}

interface ExportedResource {
  readonly urn?: string;
  readonly outputs?: Record<string, unknown>;
}

function plain(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  // A secret in an export with --show-secrets: { "4dabf18193072939515e22adb298388d": "1b47…", plaintext: "\"…\"" }.
  if (typeof value === "object" && value !== null && "plaintext" in value) {
    const text = (value as { plaintext: unknown }).plaintext;
    if (typeof text === "string") {
      try {
        const parsed = JSON.parse(text) as unknown;
        return typeof parsed === "string" ? parsed : undefined;
      } catch {
        return text;
      }
    }
  }
  return undefined;
}

/**
 * A certificate and key a resource holds: the `local.Command` that made them printed both on its
 * stdout (ADR 0007); a stack brought up before that kept them as `certPem`/`keyPem` (ADR 0006).
 */
function issuedPair(r: ExportedResource): { certPem?: string | undefined; keyPem?: string | undefined } {
  const stdout = plain(r.outputs?.stdout);
  if (stdout !== undefined) {
    const cert = /-----BEGIN CERTIFICATE-----\n[\s\S]+?\n-----END CERTIFICATE-----/.exec(stdout)?.[0];
    const key = /-----BEGIN PRIVATE KEY-----\n[\s\S]+?\n-----END PRIVATE KEY-----/.exec(stdout)?.[0];
    return { certPem: cert === undefined ? undefined : `${cert}\n`, keyPem: key === undefined ? undefined : `${key}\n` };
  }
  return { certPem: plain(r.outputs?.certPem), keyPem: plain(r.outputs?.keyPem) };
}

/** The election CA of `stack` whose certificate is `caPem` (the one the campaign trusts). */
export async function stackAuthority(stack: string, caPem: string, env: NodeJS.ProcessEnv = process.env): Promise<Authority> {
  const engine = { ...env, ...engineEnv(env) };
  const result = await run("pulumi", ["stack", "export", "--show-secrets", "--stack", stack, "--non-interactive"], {
    env: engine,
    cwd: repoRoot,
    timeoutMs: 60_000,
  });
  if (result.code !== 0) {
    throw new ToolError(`could not read the CA of stack ${stack} from its state: ${(result.error ?? result.stderr).trim().split("\n").slice(-2).join(" ")}`, {
      hint: "the cert drill needs the stack's state and passphrase (the same environment as `amadegi up`)",
    });
  }
  let resources: ExportedResource[];
  try {
    resources = (JSON.parse(result.stdout) as { deployment?: { resources?: ExportedResource[] } }).deployment?.resources ?? [];
  } catch {
    throw new ToolError(`pulumi stack export of ${stack} did not print JSON`, { hint: "run `pulumi stack export` by hand to see why" });
  }
  const want = new X509Certificate(caPem).fingerprint256;
  for (const r of resources) {
    const { certPem, keyPem } = issuedPair(r);
    if (certPem === undefined || keyPem === undefined || !keyPem.includes("PRIVATE KEY")) continue;
    try {
      if (new X509Certificate(certPem).fingerprint256 === want) return { certPem, keyPem };
    } catch {
      // not a certificate
    }
  }
  throw new ToolError(`stack ${stack}'s state holds no CA whose certificate is the one the campaign trusts`, {
    hint: "run `amadegi up` for the stack again: its CA and the probe's ca file differ",
  });
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
