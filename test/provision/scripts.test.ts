// The stack's shell scripts, run by the real sh, sha256sum and openssl of this machine, as the
// command provider runs them (the role scripts on a server, under its root; the PKI's locally).
import { execFile } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REVOKED_MARK, revokedLines, revokedSerials } from "../../src/provision/revocation.ts";
import {
  authorityDeleteScript,
  authorityScript,
  crlInstallScript,
  crlScript,
  DEVICE_SIGNER,
  DEVICES_DELETE_SCRIPT,
  devicesScript,
  devicesSignScript,
  LOCAL_FILE_DELETE_SCRIPT,
  LOCAL_FILE_SCRIPT,
  parseHashes,
  type PkiPlace,
  removeScript,
  roleScript,
  type RoleScriptInput,
  serverCertScript,
  sha256,
  splitIssued,
} from "../../src/provision/scripts.ts";
import { certificationRequest } from "../../src/rehearsal/devices.ts";
import { knownHostsLine, pinnedSshArgv, shellQuote } from "../../src/toolchain/ssh.ts";
import { startSshd } from "../helpers/sshd.ts";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `/bin/sh -c script`, as local.Command runs it and as sshd runs remote.Command's. */
function sh(script: string, { stdin = "", env = {} }: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile("/bin/sh", ["-c", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }),
    );
    // A script that exits without reading its stdin closes the pipe: not an error of the test's.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-scripts-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a role's script on a server", () => {
  const conf = { path: "/etc/amadegi/nginx/nginx.conf", content: "events {}\n", mode: 0o644 };
  const links = { path: "/etc/amadegi/nginx/links.json", content: "[]\n", mode: 0o644 };
  const key = { path: "/etc/amadegi/tls/server.key", mode: 0o600 };

  async function copy(root: string, file: { path: string; content: string }): Promise<void> {
    await mkdir(join(root, file.path, ".."), { recursive: true });
    await writeFile(join(root, file.path), file.content);
  }

  function input(root: string, files: { path: string; content: string; mode: number }[], more: Partial<RoleScriptInput> = {}): RoleScriptInput {
    return {
      server: "gw-test",
      role: "gateway",
      root,
      epoch: "",
      copied: files.map((f) => ({ path: f.path, sha256: sha256(f.content), mode: f.mode })),
      start: [`echo started >> ${root}/started`],
      stop: [`echo stopped >> ${root}/stopped`],
      ...more,
    };
  }

  it("checks the copied files, writes the secret from stdin with its mode, starts the services and reports what the server reads back", async () => {
    const root = join(dir, "one");
    await copy(root, conf);
    await copy(root, links);
    const run = await sh(roleScript(input(root, [conf, links], { secret: key })), { stdin: "SECRET KEY\n" });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(join(root, key.path), "utf8")).toBe("SECRET KEY\n");
    expect((await stat(join(root, key.path))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, conf.path))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(root, "started"), "utf8")).toBe("started\n");
    expect(parseHashes(run.stdout)).toEqual({ [key.path]: sha256("SECRET KEY\n"), [conf.path]: sha256(conf.content), [links.path]: sha256(links.content) });
    // No temporary file is left beside the key.
    expect(existsSync(join(root, "etc/amadegi/tls/.server.key.amadegi-new"))).toBe(false);
  });

  it("refuses a file that is not what the stack copied, before starting anything", async () => {
    const root = join(dir, "changed");
    await copy(root, { ...conf, content: "events { changed }\n" });
    const run = await sh(roleScript(input(root, [conf])));
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("a file on gw-test is not what the stack copied there");
    expect(existsSync(join(root, "started"))).toBe(false);
  });

  it("a role with a secret file refuses an empty stdin", async () => {
    const root = join(dir, "nostdin");
    await copy(root, conf);
    const run = await sh(roleScript(input(root, [conf], { secret: key })));
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`no secret on standard input for ${key.path}`);
  });

  it("an update removes what the last run wrote and this one no longer declares, and keeps the rest", async () => {
    const root = join(dir, "update");
    await copy(root, conf);
    await copy(root, links);
    expect((await sh(roleScript(input(root, [conf, links])))).code).toBe(0);
    const run = await sh(roleScript(input(root, [conf])));
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(root, links.path))).toBe(false);
    expect(existsSync(join(root, conf.path))).toBe(true);
    expect(Object.keys(parseHashes(run.stdout))).toEqual([conf.path]);
  });

  it("a start command that fails fails the script, naming which", async () => {
    const root = join(dir, "fails");
    await copy(root, conf);
    const run = await sh(roleScript(input(root, [conf], { start: ["true", "echo nginx: bad config >&2; exit 1"] })));
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("nginx: bad config");
    expect(run.stderr).toContain("start command 2 failed");
  });

  it("the delete script stops the services, then removes the files, the secret and the role's list", async () => {
    const root = join(dir, "remove");
    await copy(root, conf);
    expect((await sh(roleScript(input(root, [conf], { secret: key })), { stdin: "K\n" })).code).toBe(0);
    const run = await sh(removeScript(input(root, [conf], { secret: key })));
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(join(root, "stopped"), "utf8")).toBe("stopped\n");
    for (const path of [conf.path, key.path, "/var/lib/amadegi/roles/gateway.files"]) expect(existsSync(join(root, path)), path).toBe(false);
  });

  it("a new generation of the servers makes a new script (so it runs again); the same inputs the same script", () => {
    const same = input("/r", [conf]);
    expect(roleScript(same)).toBe(roleScript(input("/r", [conf])));
    expect(roleScript({ ...same, epoch: "7" })).not.toBe(roleScript(same));
  });

  it("refuses a path with .. or a newline (a renderer bug), and a role name that is not one, before anything runs", () => {
    expect(() => roleScript(input("/r", [{ ...conf, path: "/etc/../root/.ssh/authorized_keys" }]))).toThrow(/must be absolute, without "\.\."/);
    expect(() => roleScript(input("/r", [{ ...conf, path: "/etc/a\nb" }]))).toThrow(/fix the renderer/);
    expect(() => roleScript(input("/r", [conf], { role: "gateway; rm -rf /" }))).toThrow(/not a role name/);
  });

  it("quotes a root with a quote and spaces: the files land under it, nowhere else", async () => {
    const root = join(dir, "it's a root");
    await copy(root, conf);
    const run = await sh(roleScript(input(root, [conf], { start: [] })));
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(root, "var/lib/amadegi/roles/gateway.files"))).toBe(true);
  });

  it("reads sha256sum's output after the marker only", () => {
    const hash = "a".repeat(64);
    expect(parseHashes(`${hash}  etc/x\nAMADEGI-HASHES\n${hash}  etc/y\n`)).toEqual({ "/etc/y": hash });
    expect(parseHashes("no marker")).toEqual({});
  });
});

describe("the election PKI's scripts (openssl; the CA's on a pki server, here a directory standing for its root)", () => {
  const until = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  let pki: PkiPlace = { root: "", epoch: "" };
  let authority = { certPem: "", keyPem: "" };
  /** The authority's files on the pki server `at`. */
  const caFiles = (at: PkiPlace) => ({ cert: join(at.root, "var/lib/amadegi/pki/ca.crt"), key: join(at.root, "var/lib/amadegi/pki/ca.key") });
  /** A pki server with an authority of its own. */
  async function pkiServer(name: string, commonName = "amadegi test election CA"): Promise<{ place: PkiPlace; certPem: string }> {
    const place = { root: join(dir, name, "pki-server"), epoch: "" };
    await mkdir(place.root, { recursive: true });
    const run = await sh(authorityScript(place, commonName, until));
    expect(run.code, run.stderr).toBe(0);
    return { place, certPem: run.stdout };
  }

  beforeAll(async () => {
    const made = await pkiServer("authority");
    pki = made.place;
    authority = { certPem: made.certPem, keyPem: await readFile(caFiles(pki).key, "utf8") };
  });

  it("makes an authority on the pki server: its key stays there (0600), only the certificate for the name and date is printed", async () => {
    const cert = new X509Certificate(authority.certPem);
    expect(cert.subject).toBe("CN=amadegi test election CA");
    expect(cert.ca).toBe(true);
    expect(Math.abs(Date.parse(cert.validTo) - Date.parse(`${until}T23:59:59Z`))).toBeLessThan(2 * 86_400_000);
    expect(authority.certPem).not.toContain("PRIVATE KEY");
    expect(authority.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.publicKey.export({ type: "spki", format: "pem" })).toBe(
      (await import("node:crypto")).createPublicKey(authority.keyPem).export({ type: "spki", format: "pem" }),
    );
    expect((await stat(caFiles(pki).key)).mode & 0o777).toBe(0o600);
    expect((await stat(join(pki.root, "var/lib/amadegi/pki"))).mode & 0o777).toBe(0o700);
    // Run again with the same inputs: the same certificate. Another date: a new certificate for the same key.
    expect((await sh(authorityScript(pki, "amadegi test election CA", until))).stdout).toBe(authority.certPem);
    const later = new Date(Date.now() + 500 * 86_400_000).toISOString().slice(0, 10);
    const renewed = (await sh(authorityScript(pki, "amadegi test election CA", later))).stdout;
    expect(renewed).not.toBe(authority.certPem);
    expect(new X509Certificate(renewed).publicKey.equals(cert.publicKey)).toBe(true);
    expect(await readFile(caFiles(pki).key, "utf8")).toBe(authority.keyPem);
    expect((await sh(authorityScript(pki, "amadegi test election CA", until))).code).toBe(0);
    authority = { ...authority, certPem: await readFile(caFiles(pki).cert, "utf8") };
  });

  it("issues a gateway certificate on the pki server, which its authority verifies, for its address and names", async () => {
    const run = await sh(serverCertScript(pki, "a".repeat(64), "gw-1.gw.election.ir", "IP:10.10.1.11,DNS:gw-1.gw.election.ir,DNS:gw-1", until));
    expect(run.code, run.stderr).toBe(0);
    const leaf = new X509Certificate(splitIssued("gw-1", run.stdout).certPem);
    expect(leaf.verify(new X509Certificate(authority.certPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe("IP Address:10.10.1.11, DNS:gw-1.gw.election.ir, DNS:gw-1");
    expect(leaf.checkIssued(new X509Certificate(authority.certPem))).toBe(true);
    // The gateway's key is printed for its gateway; the authority's never.
    expect(run.stdout).not.toContain(authority.keyPem.trim());
    // A pki server without an authority signs nothing.
    const bare = { root: join(dir, "bare-pki"), epoch: "" };
    await mkdir(bare.root, { recursive: true });
    const none = await sh(serverCertScript(bare, "a".repeat(64), "gw-1", "DNS:gw-1", until));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no authority on this server (var/lib/amadegi/pki): the stack's election-ca makes it");
  });

  it("refuses a date that has passed, and says so; the delete script removes the authority and everything it issued", async () => {
    const gone = await pkiServer("gone");
    const run = await sh(authorityScript({ root: join(dir, "gone", "pki-server"), epoch: "" }, "x", "2020-01-01"));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("validUntil 2020-01-01 has passed");
    expect((await sh(authorityDeleteScript(gone.place))).code).toBe(0);
    expect(existsSync(join(gone.place.root, "var/lib/amadegi/pki"))).toBe(false);
  });

  /** A device: its own EC key (made here, in Node), and requests made from it by openssl. */
  interface Device {
    readonly serial: string;
    readonly keyFile: string;
    readonly fingerprint: string;
  }
  async function device(at: string, serial: string): Promise<Device> {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const keyFile = join(at, `${serial}.key`);
    await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
    const spki = publicKey.export({ type: "spki", format: "der" });
    return { serial, keyFile, fingerprint: `SHA256:${createHash("sha256").update(spki).digest("base64").replace(/=+$/, "")}` };
  }
  /** `<serial>.csr` (or `file`) in `requests`, signed with the device's key, asking for `subject` and `extensions`. */
  async function request(requests: string, d: Device, { subject = `/CN=${d.serial}`, extensions = [] as string[], file = d.serial } = {}): Promise<string> {
    const path = join(requests, `${file}.csr`);
    const made = await sh(`openssl req -new -key "$K" -subj "$S" ${extensions.map((e) => `-addext '${e}'`).join(" ")} -out "$O"`, {
      env: { K: d.keyFile, S: subject, O: path },
    });
    expect(made.code, made.stderr).toBe(0);
    return path;
  }

  interface Signing {
    readonly code: number;
    readonly stderr: string;
    readonly summary: { certificates: number; signed: number; kept: number; removed: number; refusedCount: number; refused: Record<string, string> };
  }
  /**
   * A place for requests, the issued certificates and the declared devices on this machine, and a pki
   * server of its own (a directory for its root, with an authority); `issue` runs both halves of the
   * devices' issuance as the stack does, the server's half through sh instead of ssh.
   */
  async function place(name: string) {
    const requests = join(dir, name, "requests");
    const issued = join(dir, name, "issued");
    const declaredPath = join(dir, name, "declared.json");
    await mkdir(requests, { recursive: true });
    const server = await pkiServer(name);
    // Nothing revoked unless a test says so (`revoke`), as the stack always sends the list (ADR 0021).
    const env = {
      AMADEGI_REQUESTS: requests,
      AMADEGI_ISSUED: issued,
      AMADEGI_UNTIL: until,
      AMADEGI_DIGEST: "d",
      AMADEGI_DECLARED: declaredPath,
      AMADEGI_REVOKED: "",
    };
    const declaredSha256 = async () =>
      createHash("sha256")
        .update(await readFile(declaredPath))
        .digest("hex");
    const run = async (sha = declaredSha256(), runEnv: Record<string, string> = env) =>
      sh(devicesScript(["sh", "-c", devicesSignScript(server.place, until, await sha)], ""), { env: runEnv });
    return {
      requests,
      issued,
      env,
      pki: server.place,
      /** Where the pki server keeps its certificates and the issuance log. */
      kept: join(server.place.root, "var/lib/amadegi/pki/devices"),
      ca: () => readFile(caFiles(server.place).cert, "utf8"),
      run,
      declare: (devices: readonly Pick<Device, "serial" | "fingerprint">[]) =>
        writeFile(declaredPath, JSON.stringify(Object.fromEntries(devices.map((d) => [d.serial, d.fingerprint])))),
      sign: async (): Promise<Signing> => {
        const done = await run();
        expect(done.code, done.stderr).toBe(0);
        return { code: done.code, stderr: done.stderr, summary: JSON.parse(done.stdout.trim().split("\n").at(-1) ?? "") as Signing["summary"] };
      },
      cert: async (serial: string) => new X509Certificate(await readFile(join(issued, `${serial}.crt`))),
    };
  }

  /** A request's DER elements at the top: the signed request info, the algorithm, the signature. */
  function parts(pem: string): Buffer[] {
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const out: Buffer[] = [];
    const byte = (at: number) => der.readUInt8(at);
    const header = (at: number) => (byte(at + 1) & 0x80 ? 2 + (byte(at + 1) & 0x7f) : 2);
    const length = (at: number) => (byte(at + 1) & 0x80 ? der.subarray(at + 2, at + header(at)).reduce((n, b) => n * 256 + b, 0) : byte(at + 1));
    for (let at = header(0); at < der.length; at += header(at) + length(at)) out.push(der.subarray(at, at + header(at) + length(at)));
    return out;
  }
  function pemOf(elements: Buffer[]): string {
    const body = Buffer.concat(elements);
    const n = body.length;
    const der = Buffer.concat([Buffer.from(n < 0x80 ? [0x30, n] : n < 0x100 ? [0x30, 0x81, n] : [0x30, 0x82, n >> 8, n & 0xff]), body]);
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE REQUEST-----\n`;
  }

  it("signs each declared device's request as a client certificate beside the CA; the delete script removes them", async () => {
    const p = await place("signs");
    const devices = [await device(p.requests, "DEV-1"), await device(p.requests, "DEV-2")];
    for (const d of devices) await request(p.requests, d);
    await p.declare(devices);
    const { summary, stderr } = await p.sign();
    expect(summary).toMatchObject({ certificates: 2, signed: 2, refusedCount: 0, refused: {} });
    expect(stderr).toContain("signed 2 of 2 device requests");
    const ca = new X509Certificate(await p.ca());
    const leaf = await p.cert("DEV-1");
    expect(leaf.subject).toBe("CN=DEV-1");
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    // The certificate carries the device's own key: the fingerprint the inventory declares.
    expect(
      `SHA256:${createHash("sha256")
        .update(leaf.publicKey.export({ type: "spki", format: "der" }))
        .digest("base64")
        .replace(/=+$/, "")}`,
    ).toBe(devices[0]?.fingerprint);
    expect(Math.abs(Date.parse(leaf.validTo) - Date.parse(`${until}T23:59:59Z`))).toBeLessThan(1000);
    await writeFile(join(dir, "signs", "ca.crt"), await p.ca());
    const verified = await sh('openssl verify -CAfile "$C" -purpose sslclient "$L"', {
      env: { C: join(dir, "signs", "ca.crt"), L: join(p.issued, "DEV-2.crt") },
    });
    expect(verified.stdout + verified.stderr).toContain(": OK");
    expect(await readFile(join(p.issued, "ca.crt"), "utf8")).toBe(await p.ca());
    // No key of the authority ever comes to this machine.
    expect((await sh(`grep -rl "PRIVATE KEY" "${p.issued}" || true`)).stdout).toBe("");
    expect((await sh(DEVICES_DELETE_SCRIPT, { env: p.env })).code).toBe(0);
    expect(existsSync(p.issued)).toBe(false);
    expect(existsSync(p.env.AMADEGI_DECLARED)).toBe(false);
  });

  it("signs a request as the rehearsal's devices make them (src/rehearsal/devices.ts), for the key the inventory declares", async () => {
    const p = await place("rehearsal");
    const d = await device(p.requests, "AHV-PKD-0001");
    await writeFile(join(p.requests, "AHV-PKD-0001.csr"), certificationRequest("AHV-PKD-0001", createPrivateKey(await readFile(d.keyFile))));
    await p.declare([d]);
    expect((await p.sign()).summary).toMatchObject({ certificates: 1, signed: 1, refusedCount: 0 });
    expect((await p.cert("AHV-PKD-0001")).subject).toBe("CN=AHV-PKD-0001");
  });

  it("refuses a request for a serial the inventory does not declare: the reason named, no certificate", async () => {
    const p = await place("undeclared");
    const listed = await device(p.requests, "L-1");
    const stranger = await device(p.requests, "X-9");
    await request(p.requests, listed);
    await request(p.requests, stranger);
    await p.declare([listed]);
    const { summary, stderr } = await p.sign();
    expect(summary).toMatchObject({ certificates: 1, signed: 1, refusedCount: 1 });
    expect(summary.refused["X-9"]).toMatch(/^undeclared: X-9\.csr: X-9 is not the serial of a device the inventory declares/);
    expect(stderr).toContain("refused X-9: undeclared");
    expect(existsSync(join(p.issued, "X-9.crt"))).toBe(false);
    expect(JSON.parse(await readFile(join(p.issued, ".refused.json"), "utf8"))).toHaveProperty("X-9");
    // A device named "ca" would take the authority's file: refused even when declared.
    const ca = await device(p.requests, "ca");
    await request(p.requests, ca);
    await p.declare([listed, ca]);
    const named = await p.sign();
    expect(named.summary.refused.ca).toMatch(/^bad-request: ca\.csr: "ca" is the authority's/);
    expect(await readFile(join(p.issued, "ca.crt"), "utf8")).toBe(await p.ca());
  });

  it("refuses a request whose signature does not verify: a byte of the signed part changed, or another key's signature", async () => {
    const p = await place("signature");
    const a = await device(p.requests, "SIG-1");
    const b = await device(p.requests, "SIG-2");
    const other = await device(p.requests, "OTHER");
    const pemA = await readFile(await request(p.requests, a), "utf8");
    const pemOther = await readFile(await request(p.requests, other, { subject: "/CN=SIG-2" }), "utf8");
    await request(p.requests, b);
    await p.declare([a, b]);
    // SIG-1: its subject's CN "SIG-1" changed to "SIG-X" after signing.
    const [info, algorithm, signature] = parts(pemA) as [Buffer, Buffer, Buffer];
    const at = info.indexOf("SIG-1");
    expect(at).toBeGreaterThan(0);
    const altered = Buffer.from(info);
    altered[at + 4] = "X".charCodeAt(0);
    await writeFile(join(p.requests, "SIG-1.csr"), pemOf([altered, algorithm, signature]));
    // SIG-2: its own request info (its declared key) with the signature of another key's request.
    const [infoB, algorithmB] = parts(await readFile(join(p.requests, "SIG-2.csr"), "utf8")) as [Buffer, Buffer];
    await writeFile(join(p.requests, "SIG-2.csr"), pemOf([infoB, algorithmB, parts(pemOther)[2] as Buffer]));
    await rm(join(p.requests, "OTHER.csr"));
    const { summary } = await p.sign();
    expect(summary).toMatchObject({ certificates: 0, signed: 0, refusedCount: 2 });
    expect(summary.refused["SIG-1"]).toMatch(/^bad-signature: SIG-1\.csr's signature does not verify/);
    expect(summary.refused["SIG-2"]).toMatch(/^bad-signature: /);
    expect(existsSync(join(p.issued, "SIG-1.crt")) || existsSync(join(p.issued, "SIG-2.crt"))).toBe(false);
  });

  it("refuses a key that is not the declared one, and removes the certificate issued earlier for that serial", async () => {
    const p = await place("other-key");
    const d = await device(p.requests, "K-1");
    const keep = await device(p.requests, "K-2");
    await request(p.requests, d);
    await request(p.requests, keep);
    await p.declare([d, keep]);
    expect((await p.sign()).summary).toMatchObject({ certificates: 2, signed: 2 });
    expect(existsSync(join(p.issued, "K-1.crt"))).toBe(true);
    // The inventory now declares another key for K-1 (the device was swapped): its request no longer fits.
    const swapped = await device(join(dir, "other-key"), "K-1-new");
    await p.declare([{ serial: "K-1", fingerprint: swapped.fingerprint }, keep]);
    const { summary, stderr } = await p.sign();
    expect(summary).toMatchObject({ certificates: 1, signed: 0, kept: 1, removed: 1, refusedCount: 1 });
    expect(summary.refused["K-1"]).toBe(`other-key: K-1.csr carries key ${d.fingerprint}; the inventory declares ${swapped.fingerprint} for K-1`);
    expect(stderr).toContain("refused K-1: other-key");
    expect(existsSync(join(p.issued, "K-1.crt"))).toBe(false);
    expect(existsSync(join(p.issued, "K-2.crt"))).toBe(true);
    // A request made with another key than the declared one, from the start: refused, never signed.
    const thief = await device(join(dir, "other-key"), "thief");
    await request(p.requests, thief, { file: "K-2", subject: "/CN=K-2" });
    const again = await p.sign();
    expect(again.summary.refused["K-2"]).toMatch(/^other-key: K-2\.csr carries key /);
    expect(existsSync(join(p.issued, "K-2.crt"))).toBe(false);
  });

  it("ignores what a request asks for: CA:TRUE, serverAuth, another subject and names give CN=serial, CA:FALSE, clientAuth only", async () => {
    const p = await place("ignores");
    const d = await device(p.requests, "G-1");
    await request(p.requests, d, {
      subject: "/CN=gw-1.gw.election.ir/O=Election Authority",
      extensions: ["basicConstraints=critical,CA:TRUE", "extendedKeyUsage=serverAuth,clientAuth", "keyUsage=critical,keyCertSign", "subjectAltName=DNS:gw-1"],
    });
    await p.declare([d]);
    expect((await p.sign()).summary).toMatchObject({ signed: 1, refusedCount: 0 });
    const leaf = await p.cert("G-1");
    expect(leaf.subject).toBe("CN=G-1");
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(leaf.subjectAltName).toBeUndefined();
    const text = (await sh('openssl x509 -in "$L" -noout -text', { env: { L: join(p.issued, "G-1.crt") } })).stdout;
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).not.toContain("Server Authentication");
    expect(text).not.toContain("Election Authority");
    const server = await sh('openssl verify -CAfile "$C" -purpose sslserver "$L"', { env: { C: join(p.issued, "ca.crt"), L: join(p.issued, "G-1.crt") } });
    expect(server.code).not.toBe(0);
  });

  it("signs again only what is new or changed, a certificate that is gone, or everything for another authority", async () => {
    const p = await place("incremental");
    const devices = await Promise.all(["I-1", "I-2", "I-3"].map((s) => device(p.requests, s)));
    for (const d of devices) await request(p.requests, d);
    await p.declare(devices);
    const serial = async (s: string) => (await p.cert(s)).serialNumber;
    expect((await p.sign()).summary).toMatchObject({ certificates: 3, signed: 3, kept: 0 });
    const before = { one: await serial("I-1"), two: await serial("I-2") };
    expect((await p.sign()).summary).toMatchObject({ certificates: 3, signed: 0, kept: 3 });
    // I-2 makes a new request (another subject asked, the same key); I-3's certificate is gone here: it comes back, not signed again.
    await request(p.requests, devices[1] as Device, { subject: "/CN=I-2/OU=again" });
    const three = await serial("I-3");
    await rm(join(p.issued, "I-3.crt"));
    const { summary, stderr } = await p.sign();
    expect(summary).toMatchObject({ certificates: 3, signed: 1, kept: 2 });
    expect(stderr).toContain("signed 1 of 3 device requests");
    expect(await serial("I-1")).toBe(before.one);
    expect(await serial("I-2")).not.toBe(before.two);
    expect(await serial("I-3")).toBe(three);
    // Gone from the pki server: signed again there, and the new one comes here.
    await rm(join(p.kept, "I-3.crt"));
    expect((await p.sign()).summary).toMatchObject({ certificates: 3, signed: 1, kept: 2 });
    expect(await serial("I-3")).not.toBe(three);
    // Another authority on the pki server: everything again, and ca.crt is the new one. Only what this run signed came back.
    await rm(join(p.pki.root, "var/lib/amadegi/pki/ca.key"));
    const other = (await sh(authorityScript(p.pki, "another CA", until))).stdout;
    expect(other).toContain("BEGIN CERTIFICATE");
    expect((await p.sign()).summary).toMatchObject({ certificates: 3, signed: 3 });
    expect(await readFile(join(p.issued, "ca.crt"), "utf8")).toBe(other);
    expect((await p.cert("I-1")).checkIssued(new X509Certificate(other))).toBe(true);
  });

  it("removes the certificate of a serial that left the inventory; keeps one whose request is gone while its key is still declared", async () => {
    const p = await place("left");
    const devices = await Promise.all(["R-1", "R-2"].map((s) => device(p.requests, s)));
    for (const d of devices) await request(p.requests, d);
    await p.declare(devices);
    expect((await p.sign()).summary).toMatchObject({ certificates: 2, signed: 2 });
    await rm(join(p.requests, "R-1.csr"));
    await rm(join(p.requests, "R-2.csr"));
    await p.declare([devices[0] as Device]);
    const { summary } = await p.sign();
    expect(summary).toMatchObject({ certificates: 1, kept: 1, removed: 1 });
    expect(existsSync(join(p.issued, "R-1.crt"))).toBe(true);
    expect(existsSync(join(p.issued, "R-2.crt"))).toBe(false);
  });

  it("reads the requests from the tar they travel in, a name longer than a tar header holds included", async () => {
    const p = await place("tar");
    const long = `L-${"x".repeat(118)}`;
    const devices = [await device(join(dir, "tar"), "T-1"), await device(join(dir, "tar"), "T-2")];
    await request(p.requests, devices[0] as Device);
    await request(p.requests, devices[1] as Device, { file: long });
    await p.declare([devices[0] as Device]);
    const { summary } = await p.sign();
    expect(summary).toMatchObject({ certificates: 1, signed: 1, refusedCount: 1 });
    expect(summary.refused[long]).toMatch(new RegExp(`^undeclared: ${long}\\.csr: ${long} is not the serial`));
  });

  it("gives each certificate a serial number of its own", async () => {
    const p = await place("serials");
    const devices = await Promise.all(Array.from({ length: 40 }, (_, i) => device(p.requests, `S-${i}`)));
    await Promise.all(devices.map((d) => request(p.requests, d)));
    await p.declare(devices);
    expect((await p.sign()).summary).toMatchObject({ certificates: 40, signed: 40 });
    const numbers = await Promise.all(devices.map(async (d) => (await p.cert(d.serial)).serialNumber));
    expect(new Set(numbers).size).toBe(40);
  });

  it("fails, saying why, on inputs that are wrong: declared devices not the ones the program wrote, no authority on stdin", async () => {
    const p = await place("wrong");
    const d = await device(p.requests, "W-1");
    await request(p.requests, d);
    await p.declare([d]);
    const stale = await p.run(Promise.resolve("0".repeat(64)));
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/declared devices .* not the 0{64} the program wrote/);
    expect(stale.stderr).toContain("signing on the pki server failed (exit 2)");
    await rm(join(p.pki.root, "var/lib/amadegi/pki/ca.key"));
    const none = await p.run();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no authority on this server");
    expect(existsSync(join(p.issued, "W-1.crt"))).toBe(false);
  });

  it("takes what the pki server sends back as data: a member outside the issued directory or a link fails the run, writing nothing outside", async () => {
    const p = await place("hostile");
    const d = await device(p.requests, "H-1");
    await request(p.requests, d);
    await p.declare([d]);
    const crafted = join(dir, "hostile", "crafted");
    await mkdir(crafted, { recursive: true });
    await writeFile(join(crafted, "summary.json"), '{"certificates":1,"signed":1,"kept":0,"removed":0,"refusedCount":0,"refused":{}}\n');
    await writeFile(join(crafted, "names"), "H-1.crt\n");
    await writeFile(join(crafted, ".refused.json"), "{}\n");
    await writeFile(join(crafted, "H-1.crt"), "not a certificate\n");
    const target = join(dir, "hostile", "written-through-a-link");
    const answer = async (tarArgs: string) => {
      expect((await sh(`cd ${shellQuote(crafted)} && tar -cf ../answer.tar ${tarArgs}`)).code).toBe(0);
      // The server's half: it reads what was sent, and answers with the crafted tar.
      return sh(devicesScript(["sh", "-c", `cat > /dev/null; cat ${shellQuote(join(dir, "hostile", "answer.tar"))}`], ""), { env: p.env });
    };
    await rm(join(crafted, "H-1.crt"));
    await writeFile(join(crafted, "escape.crt"), "outside\n");
    const escape = await answer("summary.json names .refused.json escape.crt --transform 's,^escape.crt,../escape.crt,'");
    expect(escape.code).not.toBe(0);
    expect(escape.stderr).toContain("Member name contains '..'");
    expect(existsSync(join(p.issued, "..", "escape.crt"))).toBe(false);
    await rm(join(crafted, "escape.crt"));
    await symlink(target, join(crafted, "H-1.crt"));
    const link = await answer("summary.json names .refused.json H-1.crt");
    expect(link.code).not.toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(p.issued, "H-1.crt"))).toBe(false);
  });

  it("sends the requests to the pki server over the pinned ssh, and only certificates come back; a server with another host key gets nothing", async () => {
    const sshd = await startSshd("127.0.0.1");
    try {
      const p = await place("over-ssh");
      const devices = [await device(join(dir, "over-ssh"), "SSH-1"), await device(join(dir, "over-ssh"), "SSH-2")];
      for (const d of devices) await request(p.requests, d);
      await p.declare(devices);
      // A device's key beside its request (as the rehearsal keeps them) never travels.
      await writeFile(join(p.requests, "SSH-1.key"), "-----BEGIN PRIVATE KEY-----\nnot to be sent\n-----END PRIVATE KEY-----\n");
      const sha = createHash("sha256")
        .update(await readFile(p.env.AMADEGI_DECLARED))
        .digest("hex");
      const over = (hostKey: string) => {
        const host = { address: "127.0.0.1", port: sshd.port, user: "root", hostKey };
        // The server keeps a copy of what it was sent, to show what travels.
        const sign = `tee ${shellQuote(sent)} | sh -c ${shellQuote(devicesSignScript(p.pki, until, sha))}`;
        return devicesScript(pinnedSshArgv(host, "known_hosts", sign, { identityFile: "login_key", timeoutMs: 30_000 }), knownHostsLine(host));
      };
      const sent = join(dir, "over-ssh", "sent.tar");
      const loginKey = await readFile(sshd.clientKeyFile, "utf8");
      const impostor = await sh(over(sshd.otherHostKey), { env: { ...p.env, AMADEGI_SSH_KEY: loginKey } });
      expect(impostor.code).toBe(255);
      expect(impostor.stderr).toContain("Host key verification failed");
      expect(existsSync(p.kept)).toBe(false);
      const run = await sh(over(sshd.hostKey), { env: { ...p.env, AMADEGI_SSH_KEY: loginKey } });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "")).toMatchObject({ certificates: 2, signed: 2 });
      expect((await p.cert("SSH-2")).checkIssued(new X509Certificate(await p.ca()))).toBe(true);
      expect((await readdir(p.kept)).sort()).toEqual([".issued.json", ".refused.json", ".serials", "SSH-1.crt", "SSH-2.crt", "ca.crt"]);
      expect((await sh(`tar -tf ${shellQuote(sent)}`)).stdout.trim().split("\n").sort()).toEqual([
        "SSH-1.csr",
        "SSH-2.csr",
        "declared.json",
        "have",
        "revoked",
        "sign.mjs",
      ]);
      expect((await sh(`grep -rl "PRIVATE KEY" "${p.kept}" "${p.issued}" || true`)).stdout).toBe("");
    } finally {
      await sshd.stop();
    }
  });

  it("leaves a public file on this machine whole, and removes it", async () => {
    const path = join(dir, "state", "ca.crt");
    expect((await sh(LOCAL_FILE_SCRIPT, { stdin: authority.certPem, env: { AMADEGI_PATH: path } })).code).toBe(0);
    expect(await readFile(path, "utf8")).toBe(authority.certPem);
    expect((await sh(LOCAL_FILE_DELETE_SCRIPT, { env: { AMADEGI_PATH: path } })).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it("the CRL: every certificate ever issued to a revoked device (the signer's issuance log), signed by the authority, never lapsing first", async () => {
    const p = await place("crl");
    const d1 = await device(join(dir, "crl"), "R-1");
    const d2 = await device(join(dir, "crl"), "R-2");
    await p.declare([d1, d2]);
    await request(p.requests, d1);
    await request(p.requests, d2);
    expect((await p.sign()).summary.signed).toBe(2);
    const first = (await p.cert("R-1")).serialNumber;
    // The device's request changes (another subject asked for): a second certificate for R-1, the first still valid until it expires.
    await request(p.requests, d1, { subject: "/CN=R-1/O=again" });
    expect((await p.sign()).summary.signed).toBe(1);
    const second = (await p.cert("R-1")).serialNumber;
    expect(second).not.toBe(first);
    // The issuance log stays on the pki server, where the CRL is made; it never comes to this machine.
    const log = await readFile(join(p.kept, ".serials"), "utf8");
    expect(log.trim().split("\n")).toHaveLength(3);
    expect(existsSync(join(p.issued, ".serials"))).toBe(false);
    const authority = { certPem: await p.ca() };

    const revoked = revokedLines([{ device: "R-1", reason: "keyCompromise", time: "2026-12-02T10:00:00Z" }]);
    const made = await sh(crlScript(p.pki, until, "d"), { stdin: `${REVOKED_MARK}\n${revoked}` });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain("CRL: 2 certificates of 1 revoked devices");
    await writeFile(join(dir, "crl", "crl.pem"), made.stdout);
    await writeFile(join(dir, "crl", "ca.pem"), authority.certPem);
    const text = await sh('openssl crl -in "$C" -CAfile "$A" -noout -text 2>&1', { env: { C: join(dir, "crl", "crl.pem"), A: join(dir, "crl", "ca.pem") } });
    expect(text.stdout).toContain("verify OK");
    const listed = [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]).sort();
    expect(listed).toEqual([first, second].sort());
    expect(listed).not.toContain((await p.cert("R-2")).serialNumber);
    expect(text.stdout).toContain("Key Compromise");
    // nextUpdate: the day after the certificates' validity ends.
    const next = /Next Update: (.+)/.exec(text.stdout)?.[1] ?? "";
    expect(new Date(next).toISOString()).toBe(new Date(Date.parse(`${until}T23:59:59Z`) + 86_400_000).toISOString());
    // A revoked certificate fails verification against the CA and this CRL; another device's passes.
    for (const [serial, want] of [
      ["R-1", "certificate revoked"],
      ["R-2", ": OK"],
    ] as const) {
      const v = await sh('openssl verify -crl_check -CAfile "$A" -CRLfile "$C" "$X" 2>&1', {
        env: { A: join(dir, "crl", "ca.pem"), C: join(dir, "crl", "crl.pem"), X: join(p.issued, `${serial}.crt`) },
      });
      expect(v.stdout, serial).toContain(want);
    }
    // Nothing revoked: a valid, empty CRL (the gateways always load one). No revoked list at all: refused.
    const empty = await sh(crlScript(p.pki, until, "d"), { stdin: `${REVOKED_MARK}\n` });
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain("-----BEGIN X509 CRL-----");
    const none = await sh(crlScript(p.pki, until, "d"), { stdin: "" });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("the CRL command got no revoked list on stdin");
  });

  it("a CRL made before a signing covers what it leaves: the CRL's command names the revoked devices, which the signer issues nothing again", async () => {
    const p = await place("crl-first");
    const d1 = await device(join(dir, "crl-first"), "Q-1");
    const d2 = await device(join(dir, "crl-first"), "Q-2");
    await p.declare([d1, d2]);
    await request(p.requests, d1);
    expect((await p.sign()).summary.signed).toBe(1);
    const before = (await p.cert("Q-1")).serialNumber;
    // Q-1 is revoked: the CRL, made first (as the stack makes it, ADR 0021), leaves the list on the pki server.
    const revocations = [{ device: "Q-1", reason: "keyCompromise" as const, time: "2026-12-02T10:00:00Z" }];
    const revoked = revokedLines(revocations);
    const made = await sh(crlScript(p.pki, until, "d"), { stdin: `${REVOKED_MARK}\n${revoked}` });
    expect(made.code, made.stderr).toBe(0);
    // The signing that follows gets the same revocations with the requests (the stack sends them every run).
    p.env.AMADEGI_REVOKED = revokedSerials(revocations);
    expect(p.env.AMADEGI_REVOKED).toBe("Q-1\n");
    // Then Q-1's request changes and Q-2 asks for its first: Q-2 is signed; Q-1 is refused, and its old certificate
    // leaves the issued directory as any refused request's does (it stays in the log, so on every CRL).
    await request(p.requests, d1, { subject: "/CN=Q-1/O=again" });
    await request(p.requests, d2);
    const signing = await p.sign();
    expect(signing.summary).toMatchObject({ signed: 1, refusedCount: 1, removed: 1 });
    expect(signing.summary.refused["Q-1"]).toMatch(/^revoked: .*the committee revoked Q-1/);
    expect(existsSync(join(p.issued, "Q-1.crt"))).toBe(false);
    const log = (await readFile(join(p.kept, ".serials"), "utf8")).trim().split("\n");
    expect(log.filter((l) => l.endsWith(" Q-1"))).toEqual([`${before} Q-1`]);
    // So every certificate Q-1 was ever issued is on the CRL made before this signing.
    const listed = [...(await sh("openssl crl -noout -text 2>&1", { stdin: made.stdout })).stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]);
    expect(listed).toEqual([before]);
    const again = await sh(crlScript(p.pki, until, "d"), { stdin: `${REVOKED_MARK}\n${revoked}` });
    expect(again.stderr).toContain("CRL: 1 certificates of 1 revoked devices");
    // Revoked no more (a CRL without it, and a signing told so): Q-1 is signed again.
    expect((await sh(crlScript(p.pki, until, "d"), { stdin: `${REVOKED_MARK}\n` })).code).toBe(0);
    p.env.AMADEGI_REVOKED = revokedSerials([]);
    expect((await p.sign()).summary).toMatchObject({ signed: 1, refusedCount: 0 });
  });

  it("signs for nobody without the revoked devices' list (fail closed), and keeps no list on the pki server for a later run to miss", async () => {
    const p = await place("no-revoked");
    const d = await device(p.requests, "N-1");
    await request(p.requests, d);
    await p.declare([d]);
    // A CRL revoking N-1 was made on the pki server; what the signer knows of it comes only with the requests.
    const made = await sh(crlScript(p.pki, until, "d"), {
      stdin: `${REVOKED_MARK}\n${revokedLines([{ device: "N-1", reason: "keyCompromise" as const, time: "2026-12-02T10:00:00Z" }])}`,
    });
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(join(p.kept, ".revoked"))).toBe(false);
    const withoutList: Record<string, string> = Object.fromEntries(Object.entries(p.env).filter(([name]) => name !== "AMADEGI_REVOKED"));
    const none = await p.run(undefined, withoutList);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("AMADEGI_REVOKED is not set: no certificate is signed without the revoked devices");
    expect(existsSync(join(p.issued, "N-1.crt"))).toBe(false);
    // The signer itself, run without its list (as an older client's tar would leave it), refuses too.
    const signerFile = join(dir, "no-revoked", "sign.mjs");
    await writeFile(signerFile, DEVICE_SIGNER);
    const signer = await sh('cat "$CA_CERT" "$CA_KEY" | node "$SIGNER"', {
      env: {
        ...p.env,
        AMADEGI_REVOKED: "",
        AMADEGI_ISSUED: join(dir, "no-revoked", "direct"),
        CA_CERT: caFiles(p.pki).cert,
        CA_KEY: caFiles(p.pki).key,
        SIGNER: signerFile,
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      },
    });
    expect(signer.code).toBe(2);
    expect(signer.stderr).toContain("AMADEGI_REVOKED is not set");
    p.env.AMADEGI_REVOKED = "N-1\n";
    const refused = await p.sign();
    expect(refused.summary).toMatchObject({ signed: 0, refusedCount: 1 });
    expect(refused.summary.refused["N-1"]).toMatch(/^revoked: /);
  });

  it("installs a CRL on a gateway whole, then has its readers re-read it; anything that is not a CRL is refused, the old one kept", async () => {
    const root = join(dir, "crl-install");
    await mkdir(root, { recursive: true });
    const at = join(root, "etc", "amadegi", "tls", "devices.crl");
    const marker = join(root, "refreshed");
    const script = crlInstallScript(root, "/etc/amadegi/tls/devices.crl", [`echo refreshed >> ${marker}`]);
    const crl = "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n";
    const ok = await sh(script, { stdin: crl });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(at, "utf8")).toBe(crl);
    expect(((await stat(at)).mode & 0o777).toString(8)).toBe("644");
    expect(await readFile(marker, "utf8")).toBe("refreshed\n");
    // The hash the server reads back, as a role's script reports it (the stack's outputs; drift compares it).
    expect(parseHashes(ok.stdout)).toEqual({ "/etc/amadegi/tls/devices.crl": sha256(crl) });
    const bad = await sh(script, { stdin: "not a CRL\n" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("no CRL on standard input");
    expect(await readFile(at, "utf8")).toBe(crl);
    expect(await readFile(marker, "utf8")).toBe("refreshed\n");
  });

  it("splitIssued names the command when openssl printed no pair", () => {
    expect(() => splitIssued("election-ca", "nothing")).toThrow("election-ca: openssl printed no certificate and key");
  });
});
