// Unit: a copied file's content kept by its sha256 in the stack's store (ADR 0010).
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedAsset } from "../../src/provision/assets.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-assets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const digest = (text: string): string => createHash("sha256").update(text).digest("hex");

describe("storedAsset", () => {
  it("writes the content once under its sha256 and returns a file asset naming it", async () => {
    const store = join(dir, "s1");
    const a = storedAsset(store, "server a\n");
    expect(await a.path).toBe(join(store, digest("server a\n")));
    expect(await readFile(join(store, digest("server a\n")), "utf8")).toBe("server a\n");
    // The same content again: the same file, nothing else written.
    const b = storedAsset(store, "server a\n");
    expect(await b.path).toBe(await a.path);
    expect(await readdir(store)).toEqual([digest("server a\n")]);
  });

  it("keeps each version apart: another content, another file", async () => {
    const store = join(dir, "s2");
    storedAsset(store, "v1");
    storedAsset(store, "v2");
    expect((await readdir(store)).sort()).toEqual([digest("v1"), digest("v2")].sort());
  });

  it("writes a file again whose bytes were changed under the store, before naming it", async () => {
    const store = join(dir, "s3");
    const path = join(store, digest("the real table"));
    storedAsset(store, "the real table");
    await writeFile(path, "a forged table");
    const again = storedAsset(store, "the real table");
    expect(await again.path).toBe(path);
    expect(await readFile(path, "utf8")).toBe("the real table");
  });
});
