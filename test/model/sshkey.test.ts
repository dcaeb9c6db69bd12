import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFingerprint, parsePublicKey } from "../../src/model/sshkey.ts";

const exec = promisify(execFile);

// A real ed25519 test key (public half only) and the fingerprint ssh-keygen -lf printed for it.
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINmcNZTggukYvr6ID29oSNUWzdW4VJLqne5Uspq0TqQe";
const FINGERPRINT = "SHA256:RK7AX2UfNCqNNBusGCGhQ9gf8A8VCiJBdjcrpVDjwSU";

describe("SSH public keys", () => {
  it("parses a key and computes the fingerprint ssh-keygen prints", () => {
    expect(parsePublicKey(KEY)).toEqual({ ok: true, fingerprint: FINGERPRINT, key: KEY });
    // The comment is kept out of `key`: only type and body go where keys are written.
    expect(parsePublicKey(`${KEY} someone@host`)).toEqual({ ok: true, fingerprint: FINGERPRINT, key: KEY });
  });

  it.each([
    ["a wrong type name", KEY.replace("ssh-ed25519", "ssh-rsa")],
    ["an unknown type", KEY.replace("ssh-ed25519", "ssh-foo")],
    ["a truncated body", KEY.slice(0, 40)],
    ["no body", "ssh-ed25519"],
    ["not base64", "ssh-ed25519 !!!!"],
  ])("refuses %s", (_what, key) => {
    expect(parsePublicKey(key).ok).toBe(false);
  });

  // Issue 13: one member, one key, one line. Each of these once put a second signer into allowed_signers.
  it.each([
    ["a second key on the next line", `${KEY} m@committee\n${KEY.replace("A", "B")} outsider`, /one line of printable text/],
    ["a carriage return", `${KEY} m@committee\r${KEY} outsider`, /one line of printable text/],
    ["a tab in the comment", `${KEY} m\tcommittee`, /one line of printable text/],
    ["a second key in the comment", `${KEY} m@committee ${KEY}`, /the comment holds another key/],
    ["a second key of another type in the comment", `${KEY} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY`, /the comment holds another key/],
  ])("refuses %s, saying why", (_what, key, reason) => {
    const parsed = parsePublicKey(key);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  // "base64 that decodes to a key of that type" (issue 13): the wire format field by field, checked
  // against keys ssh-keygen made here, and its fingerprint against ssh-keygen -lf.
  describe("against ssh-keygen's own keys", () => {
    let dir: string;
    const made: Record<string, { pub: string; fingerprint: string }> = {};
    const kinds: [string, string[]][] = [
      ["ed25519", ["-t", "ed25519"]],
      ["ecdsa-256", ["-t", "ecdsa", "-b", "256"]],
      ["ecdsa-384", ["-t", "ecdsa", "-b", "384"]],
      ["ecdsa-521", ["-t", "ecdsa", "-b", "521"]],
      ["rsa-3072", ["-t", "rsa", "-b", "3072"]],
      ["rsa-1024", ["-t", "rsa", "-b", "1024"]],
    ];
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "amadegi-keys-"));
      for (const [name, args] of kinds) {
        const file = join(dir, name);
        await exec("ssh-keygen", ["-q", ...args, "-N", "", "-C", `${name}@test`, "-f", file]);
        const pub = (await readFile(`${file}.pub`, "utf8")).trim();
        made[name] = { pub, fingerprint: (await exec("ssh-keygen", ["-lf", `${file}.pub`])).stdout.split(" ")[1] ?? "" };
      }
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));
    const body = (name: string) => Buffer.from(made[name]?.pub.split(" ")[1] ?? "", "base64");
    const type = (name: string) => made[name]?.pub.split(" ")[0] ?? "";

    it.each(["ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521", "rsa-3072"])("accepts %s, with ssh-keygen's fingerprint", (name) => {
      expect(parsePublicKey(made[name]?.pub ?? "")).toEqual({
        ok: true,
        fingerprint: made[name]?.fingerprint,
        key: made[name]?.pub.split(" ").slice(0, 2).join(" "),
      });
    });

    it.each([
      ["an RSA key under 2048 bits", () => made["rsa-1024"]?.pub ?? "", /an RSA key of 1024 bits is too weak/],
      [
        "bytes after the key",
        () => `${type("ed25519")} ${Buffer.concat([body("ed25519"), Buffer.from([0, 0, 0, 1, 65])]).toString("base64")}`,
        /bytes after the key/,
      ],
      [
        "an ecdsa body under another curve's name",
        () =>
          `ecdsa-sha2-nistp384 ` +
          `${Buffer.concat([Buffer.from([0, 0, 0, 19]), Buffer.from("ecdsa-sha2-nistp384"), body("ecdsa-256").subarray(23)]).toString("base64")}`,
        /does not match its type/,
      ],
      ["a body cut inside a field", () => `${type("rsa-3072")} ${body("rsa-3072").subarray(0, 200).toString("base64")}`, /does not match its type/],
      ["base64 that is not canonical (no padding)", () => made["ecdsa-256"]?.pub.replace(/=+( |$)/, "$1") ?? "", /not canonical base64/],
    ])("refuses %s, saying why", (_what, key, reason) => {
      const parsed = parsePublicKey(key());
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    });
  });

  it("knows a SHA256 fingerprint", () => {
    expect(isFingerprint(FINGERPRINT)).toBe(true);
    expect(isFingerprint("MD5:12:34")).toBe(false);
    expect(isFingerprint(`${FINGERPRINT}=`)).toBe(false);
  });
});
