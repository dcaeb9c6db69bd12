import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diffWithFiles, issuedMarker } from "../../src/provision/diff.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("a resource that leaves files on the stack's machine", () => {
  it("is the same while its inputs and files are; changed when a file it wrote is gone; replaced when a replacing field changes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-diff-"));
    dirs.push(dir);
    const file = join(dir, "ca.crt");
    await writeFile(file, "pem");
    const olds = { path: file, content: "pem" };
    expect(diffWithFiles(olds, { ...olds }, ["path", "content"], ["path"], [file])).toEqual({ changes: false });
    await rm(file);
    // The engine's state says written; the machine says gone (a rehearsal built again): write it again.
    expect(diffWithFiles(olds, { ...olds }, ["path", "content"], ["path"], [file])).toEqual({ changes: true });
    expect(diffWithFiles(olds, { path: join(dir, "other.crt"), content: "pem" }, ["path", "content"], ["path"], [file])).toEqual({
      changes: true,
      replaces: ["path"],
    });
    expect(issuedMarker(dir)).toBe(file);
  });
});
