import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestFiles, hashFiles, keepNewest, writeFileAtomic, writeFileAtomicSync } from "../../src/lib/fs.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-digest-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("digestFiles", () => {
  it("changes when a file of the suffix is added or changed, not for other files; a missing directory has none", async () => {
    await writeFile(join(dir, "a.csr"), "A");
    const one = digestFiles(dir, ".csr");
    expect(one.count).toBe(1);
    await writeFile(join(dir, "a.key"), "secret");
    expect(digestFiles(dir, ".csr")).toEqual(one);
    await writeFile(join(dir, "b.csr"), "B");
    const two = digestFiles(dir, ".csr");
    expect(two.count).toBe(2);
    expect(two.digest).not.toBe(one.digest);
    await writeFile(join(dir, "b.csr"), "B2");
    expect(digestFiles(dir, ".csr").digest).not.toBe(two.digest);
    expect(digestFiles(join(dir, "none"), ".csr").count).toBe(0);
  });
});

describe("writeFileAtomicSync", () => {
  it("writes the whole file with its mode, making its directory, and leaves no temporary file beside it", async () => {
    const path = join(dir, "deep", "declared.json");
    writeFileAtomicSync(path, "one\n", 0o600);
    writeFileAtomicSync(path, "two\n", 0o600);
    expect(await readFile(path, "utf8")).toBe("two\n");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, "deep"))).toEqual(["declared.json"]);
    // A directory where the file should be: the write fails, and nothing is left behind.
    expect(() => writeFileAtomicSync(join(dir, "deep"), "x")).toThrow();
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("writeFileAtomic", () => {
  it("writes a file given in pieces whole, each piece as it is made; a reader sees the old file until the rename", async () => {
    const path = join(dir, "pieces", "status.jsonl");
    await writeFileAtomic(path, "old\n");
    const seen: string[] = [];
    const pieces = (function* () {
      for (let i = 0; i < 3; i++) {
        // While the pieces are written, the file is still the old one.
        seen.push(readFileSync(path, "utf8"));
        yield `line ${i}\n`;
      }
    })();
    await writeFileAtomic(path, pieces, 0o640);
    expect(await readFile(path, "utf8")).toBe("line 0\nline 1\nline 2\n");
    expect(seen).toEqual(["old\n", "old\n", "old\n"]);
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(join(dir, "pieces"))).toEqual(["status.jsonl"]);
  });
});

describe("keepNewest", () => {
  it("keeps the newest files of the prefix and suffix by modification time, and touches no other file", async () => {
    const cache = await mkdtemp(join(tmpdir(), "amadegi-t-keep-"));
    try {
      for (let i = 0; i < 5; i++) {
        await writeFile(join(cache, `m-${i}.json`), String(i));
        await utimes(join(cache, `m-${i}.json`), 1000 + i, 1000 + i);
      }
      await writeFile(join(cache, "other-0.json"), "x");
      await writeFile(join(cache, "m-old.txt"), "x");
      await utimes(join(cache, "other-0.json"), 1, 1);
      await keepNewest(cache, "m-", ".json", 2);
      expect((await readdir(cache)).sort()).toEqual(["m-3.json", "m-4.json", "m-old.txt", "other-0.json"]);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});

describe("hashFiles", () => {
  it("changes with the tag and with any file's bytes, not with nothing", async () => {
    const a = join(dir, "code-a.ts");
    const b = join(dir, "code-b.ts");
    await writeFile(a, "export const a = 1;\n");
    await writeFile(b, "export const b = 2;\n");
    const first = await hashFiles("amadegi-test 1", [a, b]);
    expect(await hashFiles("amadegi-test 1", [a, b])).toBe(first);
    expect(await hashFiles("amadegi-test 2", [a, b])).not.toBe(first);
    await writeFile(b, "export const b = 3;\n");
    expect(await hashFiles("amadegi-test 1", [a, b])).not.toBe(first);
  });
});
