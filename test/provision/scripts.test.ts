// The stack's shell scripts, run by the real sh, sha256sum and openssl of this machine, as the
// command provider runs them (the role scripts on a server, under its root; the PKI's locally).
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTHORITY_SCRIPT,
  DEVICES_DELETE_SCRIPT,
  DEVICES_SCRIPT,
  LOCAL_FILE_DELETE_SCRIPT,
  LOCAL_FILE_SCRIPT,
  parseHashes,
  removeScript,
  roleScript,
  type RoleScriptInput,
  SERVER_CERT_SCRIPT,
  sha256,
  splitIssued,
} from "../../src/provision/scripts.ts";

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

describe("the election PKI's scripts (openssl, on the machine running the stack)", () => {
  const until = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  let authority = { certPem: "", keyPem: "" };

  beforeAll(async () => {
    const run = await sh(AUTHORITY_SCRIPT, { env: { AMADEGI_CN: "amadegi test election CA", AMADEGI_UNTIL: until } });
    expect(run.code, run.stderr).toBe(0);
    authority = splitIssued("ca", run.stdout);
  });

  it("makes an authority: a CA certificate for the name, valid until the date, and its EC key", () => {
    const cert = new X509Certificate(authority.certPem);
    expect(cert.subject).toBe("CN=amadegi test election CA");
    expect(cert.ca).toBe(true);
    expect(cert.validTo.slice(0, 6)).toBeTruthy();
    expect(Math.abs(Date.parse(cert.validTo) - Date.parse(`${until}T23:59:59Z`))).toBeLessThan(2 * 86_400_000);
    expect(authority.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("issues a gateway certificate the authority verifies, for its address and names", async () => {
    const run = await sh(SERVER_CERT_SCRIPT, {
      stdin: authority.certPem + authority.keyPem,
      env: { AMADEGI_CN: "gw-1.gw.election.ir", AMADEGI_SAN: "IP:10.10.1.11,DNS:gw-1.gw.election.ir,DNS:gw-1", AMADEGI_UNTIL: until },
    });
    expect(run.code, run.stderr).toBe(0);
    const leaf = new X509Certificate(splitIssued("gw-1", run.stdout).certPem);
    expect(leaf.verify(new X509Certificate(authority.certPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe("IP Address:10.10.1.11, DNS:gw-1.gw.election.ir, DNS:gw-1");
    expect(leaf.checkIssued(new X509Certificate(authority.certPem))).toBe(true);
  });

  it("refuses a date that has passed, and says so", async () => {
    const run = await sh(AUTHORITY_SCRIPT, { env: { AMADEGI_CN: "x", AMADEGI_UNTIL: "2020-01-01" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("validUntil 2020-01-01 has passed");
  });

  it("signs device requests as client certificates beside the CA; refuses a request whose CN is not its serial; delete removes them", async () => {
    const requests = join(dir, "requests");
    const issued = join(dir, "requests", "issued");
    await mkdir(requests, { recursive: true });
    for (const [file, cn] of [
      ["DEV-1", "DEV-1"],
      ["DEV-2", "DEV-2"],
    ]) {
      const out = join(requests, `${file}.csr`);
      const made = await sh(
        `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=${cn}" -out "${out}" 2>/dev/null`,
      );
      expect(made.code).toBe(0);
    }
    const env = { AMADEGI_REQUESTS: requests, AMADEGI_ISSUED: issued, AMADEGI_UNTIL: until, AMADEGI_DIGEST: "d" };
    const run = await sh(DEVICES_SCRIPT, { stdin: authority.certPem + authority.keyPem, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("2");
    const device = new X509Certificate(await readFile(join(issued, "DEV-1.crt")));
    expect(device.subject).toBe("CN=DEV-1");
    expect(device.verify(new X509Certificate(authority.certPem).publicKey)).toBe(true);
    expect(await readFile(join(issued, "ca.crt"), "utf8")).toBe(authority.certPem);
    // No key of the authority is left beside the devices' certificates.
    expect((await sh(`grep -rl "PRIVATE KEY" "${issued}" || true`)).stdout).toBe("");

    await sh(`cp "${join(requests, "DEV-1.csr")}" "${join(requests, "DEV-3.csr")}"`);
    const wrong = await sh(DEVICES_SCRIPT, { stdin: authority.certPem + authority.keyPem, env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("its CN is DEV-1, not DEV-3; the device must make a new request");

    expect((await sh(DEVICES_DELETE_SCRIPT, { env })).code).toBe(0);
    expect(existsSync(issued)).toBe(false);
  });

  it("signs more requests than a batch holds, in parallel batches, each certificate with a serial of its own", async () => {
    const requests = join(dir, "many");
    const issued = join(requests, "issued");
    await mkdir(requests, { recursive: true });
    const made = await sh(
      'openssl ecparam -name prime256v1 -genkey -noout -out "$R/key" && i=0; while [ $i -lt 150 ]; do i=$((i + 1)); ' +
        'openssl req -new -key "$R/key" -subj "/CN=S-$i" -out "$R/S-$i.csr" || exit 1; done',
      { env: { R: requests } },
    );
    expect(made.code, made.stderr).toBe(0);
    const env = { AMADEGI_REQUESTS: requests, AMADEGI_ISSUED: issued, AMADEGI_UNTIL: until, AMADEGI_DIGEST: "d" };
    const run = await sh(DEVICES_SCRIPT, { stdin: authority.certPem + authority.keyPem, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("150");
    const serials = await sh('for c in "$I"/S-*.crt; do openssl x509 -in "$c" -noout -serial; done', { env: { I: issued } });
    const list = serials.stdout.trim().split("\n");
    expect(list).toHaveLength(150);
    expect(new Set(list).size).toBe(150);
  });

  it("signs again only what is new or changed, a certificate that is gone, or everything for another authority", async () => {
    const requests = join(dir, "incremental");
    const issued = join(requests, "issued");
    await mkdir(requests, { recursive: true });
    const request = (cn: string) =>
      sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=${cn}" -out "$R/${cn}.csr" 2>/dev/null`, {
        env: { R: requests },
      });
    for (const cn of ["I-1", "I-2", "I-3"]) expect((await request(cn)).code).toBe(0);
    const env = { AMADEGI_REQUESTS: requests, AMADEGI_ISSUED: issued, AMADEGI_UNTIL: until, AMADEGI_DIGEST: "d" };
    const sign = async (signer = authority) => {
      const run = await sh(DEVICES_SCRIPT, { stdin: signer.certPem + signer.keyPem, env });
      expect(run.code, run.stderr).toBe(0);
      return { total: run.stdout.trim(), said: run.stderr.trim() };
    };
    const serial = async (cn: string) => (await sh(`openssl x509 -in "${join(issued, `${cn}.crt`)}" -noout -serial`)).stdout;
    expect(await sign()).toEqual({ total: "3", said: "signed 3 of 3 device requests" });
    const before = { one: await serial("I-1"), two: await serial("I-2"), three: await serial("I-3") };
    expect(await sign()).toEqual({ total: "3", said: "signed 0 of 3 device requests" });
    // A device makes a new request (a new key): that one only.
    expect((await request("I-2")).code).toBe(0);
    await rm(join(issued, "I-3.crt"));
    expect(await sign()).toEqual({ total: "3", said: "signed 2 of 3 device requests" });
    expect(await serial("I-1")).toBe(before.one);
    expect(await serial("I-2")).not.toBe(before.two);
    expect(existsSync(join(issued, "I-3.crt"))).toBe(true);
    // Another authority: everything again, and ca.crt is the new one.
    const other = await sh(AUTHORITY_SCRIPT, { env: { AMADEGI_CN: "another CA", AMADEGI_UNTIL: until } });
    const next = splitIssued("other", other.stdout);
    expect(await sign(next)).toEqual({ total: "3", said: "signed 3 of 3 device requests" });
    expect(await readFile(join(issued, "ca.crt"), "utf8")).toBe(next.certPem);
  });

  it("leaves a public file on this machine whole, and removes it", async () => {
    const path = join(dir, "state", "ca.crt");
    expect((await sh(LOCAL_FILE_SCRIPT, { stdin: authority.certPem, env: { AMADEGI_PATH: path } })).code).toBe(0);
    expect(await readFile(path, "utf8")).toBe(authority.certPem);
    expect((await sh(LOCAL_FILE_DELETE_SCRIPT, { env: { AMADEGI_PATH: path } })).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it("splitIssued names the command when openssl printed no pair", () => {
    expect(() => splitIssued("election-ca", "nothing")).toThrow("election-ca: openssl printed no certificate and key");
  });
});
