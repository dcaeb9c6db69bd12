// The Pki component's own pieces that run in the program: the declared devices' file the device
// signer reads (path, content, sha256), the signer's summary it exposes as outputs, and the order of
// its commands under Pulumi's mocks (no engine, nothing sent).
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { declaredFile, parseDevices } from "../../src/provision/pki.ts";
import { certAndKeyPem } from "../helpers/pki.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-pki-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const A = { serial: "AD-1", fingerprint: `SHA256:${"A".repeat(43)}` };
const B = { serial: "AD-2", fingerprint: `SHA256:${"B".repeat(43)}` };

describe("the declared devices' file", () => {
  it("is beside the issued directory, the same for the same devices in any order, another for another key", () => {
    const issued = join(dir, "devices", "issued");
    const one = declaredFile(issued, [A, B], false);
    expect(one.path).toBe(`${issued}.declared.json`);
    expect(declaredFile(`${issued}/`, [B, A], false)).toEqual(one);
    expect(declaredFile(issued, [A, { ...B, fingerprint: `SHA256:${"C".repeat(43)}` }], false).sha256).not.toBe(one.sha256);
    expect(declaredFile(issued, [A], false).sha256).not.toBe(one.sha256);
    // A preview writes nothing.
    expect(existsSync(one.path)).toBe(false);
  });

  it("an up writes serial -> fingerprint as JSON whose sha256 is the one the command gets, and leaves an unchanged file alone", async () => {
    const issued = join(dir, "written", "issued");
    const made = declaredFile(issued, [B, A], true);
    const content = await readFile(made.path, "utf8");
    expect(JSON.parse(content)).toEqual({ "AD-1": A.fingerprint, "AD-2": B.fingerprint });
    expect(Object.keys(JSON.parse(content) as object)).toEqual(["AD-1", "AD-2"]);
    expect(createHash("sha256").update(content).digest("hex")).toBe(made.sha256);
    const before = (await stat(made.path)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    declaredFile(issued, [A, B], true);
    expect((await stat(made.path)).mtimeMs).toBe(before);
    // Another list replaces it whole.
    await writeFile(made.path, "stale");
    declaredFile(issued, [A], true);
    expect(JSON.parse(await readFile(made.path, "utf8"))).toEqual({ "AD-1": A.fingerprint });
  });
});

describe("the device signer's summary", () => {
  it("reads the last line of its stdout", () => {
    const line = JSON.stringify({ certificates: 2, signed: 1, kept: 1, removed: 0, refusedCount: 1, refused: { "X-9": "undeclared: no" } });
    expect(parseDevices(`noise\n${line}\n`)).toMatchObject({ certificates: 2, refusedCount: 1, refused: { "X-9": "undeclared: no" } });
  });

  it("reads the count the earlier signer printed (a state from before), as no refusals", () => {
    expect(parseDevices("signed 0 of 2\n2\n")).toEqual({ certificates: 2, signed: 0, kept: 2, removed: 0, refusedCount: 0, refused: {} });
  });

  it("refuses what is not the summary (text, a summary without its refusals)", () => {
    expect(() => parseDevices("[]")).toThrow(/summary is not/);
    expect(() => parseDevices("signed 2 of 2")).toThrow(/printed no summary/);
    expect(() => parseDevices(JSON.stringify({ certificates: 2, signed: 2, kept: 0, removed: 0, refusedCount: 0 }))).toThrow(/summary is not/);
  });
});

describe("the component's order (ADR 0021)", () => {
  /** Answers the mocks hold back: the devices' signing, until the test lets it end. */
  let letSign: () => void = () => undefined;
  const registered: string[] = [];
  let authority = "";

  beforeAll(async () => {
    authority = await certAndKeyPem();
    const signing = new Promise<void>((resolve) => {
      letSign = resolve;
    });
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          registered.push(args.name);
          if (args.name === "election-devices") await signing;
          const stdout =
            args.name === "election-crl"
              ? "-----BEGIN X509 CRL-----\nunit\n-----END X509 CRL-----\n"
              : args.name === "election-devices"
                ? '{"certificates":1,"signed":1,"kept":0,"removed":0,"refusedCount":0,"refused":{}}\n'
                : authority;
          return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
        },
        call: (args) => args.inputs,
      },
      "amadegi",
      "unit",
      true,
    );
  });

  it("makes the CRL, which the gateways start with, without waiting for the devices' signing; the signing waits for the CRL", async () => {
    const { Pki } = await import("../../src/provision/pki.ts");
    const requests = join(dir, "order", "requests");
    await mkdir(requests, { recursive: true });
    await writeFile(join(requests, "AD-1.csr"), "a request\n");
    const pki = new Pki("election", {
      server: {
        host: { address: "10.10.0.40", port: 22, user: "amadegi", hostKey: `ssh-ed25519 ${"A".repeat(68)}` },
        privateKey: pulumi.secret("unit key"),
        root: "",
        epoch: "",
      },
      commonName: "amadegi unit election CA",
      validUntil: "2099-01-01",
      servers: [{ id: "gw-1", address: "10.10.1.11", names: ["gw-1"] }],
      devices: { requests, issued: join(dir, "order", "issued"), declared: [A] },
      revoked: [],
    });
    const value = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply((v) => resolve(v)));
    // The signing does not answer until let; the CRL (a gateway's files carry it) is made all the same.
    let timer: NodeJS.Timeout | undefined;
    const held = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("the CRL waited for the devices' signing"), 5000);
    });
    expect(await Promise.race([value(pki.crl), held])).toContain("BEGIN X509 CRL");
    clearTimeout(timer);
    // The signing is asked for after the CRL, and ends when let.
    await vi.waitFor(() => expect(registered).toContain("election-devices"));
    expect(registered.indexOf("election-crl")).toBeLessThan(registered.indexOf("election-devices"));
    letSign();
    expect(await value(pki.devices)).toBe(1);
  });
});
