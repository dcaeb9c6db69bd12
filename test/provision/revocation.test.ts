// Revocations as the committee signs them, checked with real ssh-keygen signatures.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Member } from "../../src/model/index.ts";
import {
  parseRevocation,
  readRevocations,
  renderRevocation,
  REVOCATION_NAMESPACE,
  type RevocationManifest,
  revokedLines,
  revokedSerials,
} from "../../src/provision/revocation.ts";
import { SIGNOFF_NAMESPACE } from "../../src/readiness/signoff.ts";

const exec = promisify(execFile);
let dir = "";
const keys: Record<string, { path: string; pub: string }> = {};
let committee: Member[] = [];

const base: RevocationManifest = { election: "e-1405", stack: "tehran", device: "AHV-0001", reason: "keyCompromise", time: "2026-12-02T10:00:00Z" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-revocation-"));
  for (const name of ["m-one", "outsider"]) {
    const path = join(dir, name);
    await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
    keys[name] = { path, pub: (await readFile(`${path}.pub`, "utf8")).trim() };
  }
  committee = [{ id: "m-one", sshKey: keys["m-one"]?.pub ?? "" } as Member];
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

/** A directory of revocations, each written and (unless `sign` is false) signed by `signer` under `namespace`. */
async function revocations(
  entries: readonly { m: RevocationManifest; signer?: string; namespace?: string; sign?: boolean; tamper?: boolean }[],
): Promise<string> {
  const d = await mkdtemp(join(dir, "set-"));
  for (const [i, e] of entries.entries()) {
    const file = join(d, `${e.m.device}-${i}.txt`);
    await writeFile(file, renderRevocation(e.m));
    if (e.sign === false) continue;
    await exec("ssh-keygen", ["-Y", "sign", "-q", "-f", keys[e.signer ?? "m-one"]?.path ?? "", "-n", e.namespace ?? REVOCATION_NAMESPACE, file]);
    if (e.tamper === true) await writeFile(file, renderRevocation({ ...e.m, device: "AHV-0002" }));
  }
  return d;
}

const expected = () => ({ committee, election: "e-1405", stack: "tehran" });

describe("a revocation manifest", () => {
  it("renders fixed fields in a fixed order and parses back exactly", () => {
    const text = renderRevocation(base);
    expect(text).toBe("amadegi revocation v1\nelection: e-1405\nstack: tehran\ndevice: AHV-0001\nreason: keyCompromise\ntime: 2026-12-02T10:00:00Z\n");
    expect(parseRevocation(text)).toEqual(base);
  });

  it("refuses any other layout: a line added, a reason no RFC 5280 code, a device that is not a serial, a time that is not UTC", () => {
    const text = renderRevocation(base);
    expect(() => parseRevocation(`${text}extra: 1\n`)).toThrow(/not an amadegi revocation/);
    expect(() => parseRevocation(text.replace("keyCompromise", "lost"))).toThrow(/reason "lost" is not one of keyCompromise/);
    expect(() => parseRevocation(text.replace("AHV-0001", "AHV 0001/../x"))).toThrow(/device is not a device serial/);
    expect(() => parseRevocation(text.replace("2026-12-02T10:00:00Z", "tomorrow"))).toThrow(/time is not ISO 8601 UTC/);
  });

  it("the CRL command's lines: device, reason, time", () => {
    expect(revokedLines([base, { ...base, device: "AHV-0002", reason: "superseded" }])).toBe(
      "AHV-0001 keyCompromise 2026-12-02T10:00:00Z\nAHV-0002 superseded 2026-12-02T10:00:00Z\n",
    );
  });

  it("the device signer's list: each revoked serial once, sorted, one a line; empty when none", () => {
    expect(revokedSerials([{ device: "AHV-0002" }, base, base])).toBe("AHV-0001\nAHV-0002\n");
    expect(revokedSerials([])).toBe("");
  });
});

describe("readRevocations", () => {
  it("a revocation signed by a committee member is in force, naming who signed; an unsigned one is pending; no directory is none", async () => {
    const d = await revocations([{ m: base }, { m: { ...base, device: "AHV-0003" }, sign: false }]);
    const read = await readRevocations(d, expected());
    expect(read.problems).toEqual([]);
    expect(read.revoked).toEqual([{ ...base, member: "m-one", file: join(d, "AHV-0001-0.txt") }]);
    expect(read.pending).toEqual([join(d, "AHV-0003-1.txt")]);
    expect(await readRevocations(join(dir, "none"), expected())).toEqual({ revoked: [], pending: [], problems: [] });
  });

  it("refuses, naming the file and why: a key not in the committee, a manifest changed after signing, a sign-off's namespace, another stack", async () => {
    const d = await revocations([
      { m: base, signer: "outsider" },
      { m: { ...base, device: "AHV-0004" }, tamper: true },
      { m: { ...base, device: "AHV-0005" }, namespace: SIGNOFF_NAMESPACE },
      { m: { ...base, device: "AHV-0006", stack: "mashhad" } },
    ]);
    const read = await readRevocations(d, expected());
    expect(read.revoked).toEqual([]);
    expect(read.problems).toHaveLength(4);
    expect(read.problems[0]).toBe(`${join(d, "AHV-0001-0.txt")}: signed with a key that is not in governance/committee.yaml`);
    expect(read.problems[1]).toMatch(/AHV-0004-1\.txt: m-one's signature does not verify over it under namespace amadegi-revocation/);
    expect(read.problems[2]).toMatch(/AHV-0005-2\.txt: m-one's signature does not verify/);
    expect(read.problems[3]).toMatch(/AHV-0006-3\.txt: revokes for election e-1405, stack mashhad; this is e-1405, tehran/);
  });

  it("two decisions for one device: the earliest is in force", async () => {
    const d = await revocations([{ m: { ...base, time: "2026-12-02T11:00:00Z", reason: "superseded" } }, { m: base }]);
    const read = await readRevocations(d, expected());
    expect(read.revoked.map((r) => [r.device, r.time, r.reason])).toEqual([["AHV-0001", "2026-12-02T10:00:00Z", "keyCompromise"]]);
  });

  it("a file that is not a manifest, signed, is a problem, not a crash", async () => {
    const d = join(dir, "garbage");
    await mkdir(d);
    await writeFile(join(d, "x.txt"), "hello\n");
    await exec("ssh-keygen", ["-Y", "sign", "-q", "-f", keys["m-one"]?.path ?? "", "-n", REVOCATION_NAMESPACE, join(d, "x.txt")]);
    const read = await readRevocations(d, expected());
    expect(read.problems).toEqual([`${join(d, "x.txt")}: not an amadegi revocation (expected "amadegi revocation v1" and 5 fields)`]);
  });
});
