// The election PKI with the real openssl CLI: an authority, a gateway's server
// certificate, and device certificates signed from the devices' requests —
// each verified by openssl against the authority.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthority, issueServer, signRequests } from "../../../src/provision/pki/openssl.ts";

const run = promisify(execFile);

describe("the election PKI (openssl)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-t-pki-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const until = new Date(Date.now() + 200 * 86_400_000).toISOString().slice(0, 10);

  it("issues a gateway certificate the authority verifies, for its address and names, valid until the date", async () => {
    const ca = await createAuthority("test election CA", until);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(ca.keyPem).toMatch(/BEGIN PRIVATE KEY/);
    const leaf = await issueServer(ca, "gw-1.gw.election.ir", ["10.10.1.11"], ["gw-1.gw.election.ir"], until);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe("IP Address:10.10.1.11, DNS:gw-1.gw.election.ir");
    expect(leaf.notAfter.slice(0, 10)).toBe(until);
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it("refuses a date that has passed", async () => {
    await expect(createAuthority("x", "2020-01-01")).rejects.toThrow(/has passed/);
  });

  it("signs device requests as client certificates; a request whose CN is not its serial is refused", async () => {
    const ca = await createAuthority("test election CA", until);
    const requests = join(dir, "requests");
    const issued = join(dir, "issued");
    await run("mkdir", ["-p", requests]);
    for (const serial of ["DEV-1", "DEV-2"]) {
      await run("openssl", [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(requests, `${serial}.key`),
        "-out",
        join(requests, `${serial}.csr`),
        "-subj",
        `/CN=${serial}`,
      ]);
    }
    expect(await signRequests(ca, requests, issued, until)).toEqual(["DEV-1", "DEV-2"]);
    await writeFile(join(dir, "chain.pem"), ca.certPem);
    const verified = await run("openssl", [
      "verify",
      "-purpose",
      "sslclient",
      "-CAfile",
      join(issued, "ca.crt"),
      join(issued, "DEV-1.crt"),
      join(issued, "DEV-2.crt"),
    ]);
    expect(verified.stdout).toContain("DEV-1.crt: OK");
    expect(verified.stdout).toContain("DEV-2.crt: OK");
    const server = await run("openssl", ["verify", "-purpose", "sslserver", "-CAfile", join(issued, "ca.crt"), join(issued, "DEV-1.crt")]).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    expect(`${server.stdout}${server.stderr}`).toMatch(/unsupported certificate purpose|error/);
    expect(existsSync(join(issued, "DEV-1.key"))).toBe(false);

    await run("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "x.key"),
      "-out",
      join(requests, "DEV-3.csr"),
      "-subj",
      "/CN=DEV-999",
    ]);
    await expect(signRequests(ca, requests, issued, until)).rejects.toThrow(/DEV-3\.csr: its CN is DEV-999, not DEV-3/);
    expect((await readFile(join(issued, "ca.crt"), "utf8")).trim()).toBe(ca.certPem.trim());
  });
});
