// The Pki component's own pieces that run in the program: the declared devices' file the device
// signer reads (path, content, sha256) and the signer's summary it exposes as outputs.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declaredFile, parseDevices } from "../../src/provision/pki.ts";

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
