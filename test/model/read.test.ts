// Stage 1, read: what cannot be an inventory file is refused with a finding
// naming the file and, where it helps, the byte's position; never a stack trace.
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InventoryError } from "../../src/lib/errors.ts";
import { loadInventory } from "../../src/model/index.ts";
import { copyFixture, edit, type Expected, FIXTURES, load, shape } from "./fixture.ts";

const Z = "inventory/districts/zz.yaml";

async function withBadDistrict(name: string): Promise<{ root: string; found: Expected[] }> {
  const root = await copyFixture();
  await copyFile(join(FIXTURES, "bad", name), join(root, Z));
  const result = await load(root);
  return { root, found: result.findings.map((f) => shape(root, f)) };
}

describe("reading files", () => {
  it.each([
    { file: "binary.yaml", expect: [{ rule: "input.binary", item: "-", file: Z, line: 3, col: 1 }] },
    { file: "windows-1256.yaml", expect: [{ rule: "input.encoding", item: "-", file: Z, line: 2, col: 9 }] },
    { file: "utf16.yaml", expect: [{ rule: "input.encoding", item: "-", file: Z, line: 1, col: 1 }] },
    { file: "empty.yaml", expect: [{ rule: "input.empty", item: "-", file: Z, line: 1, col: 1 }] },
    { file: "comments-only.yaml", expect: [{ rule: "input.empty", item: "-", file: Z, line: 1, col: 1 }] },
  ])("$file", async ({ file, expect: expected }) => {
    const { found } = await withBadDistrict(file);
    expect(found).toEqual(expected);
  });

  it("accepts a BOM and CRLF line ends, with the same positions as LF", async () => {
    const root = await copyFixture();
    await copyFile(join(FIXTURES, "bad", "bom-crlf.yaml"), join(root, "inventory/districts/alpha.yaml"));
    expect((await load(root)).findings).toEqual([]);
    await edit(root, "inventory/districts/alpha.yaml", "signalDbm: -80", "signalDbm: -117");
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toContainEqual({ rule: "redundancy.blind-spot", item: "A-1-M", file: "inventory/districts/alpha.yaml", line: 28, col: 30 });
  });

  it("refuses a file over 32 MiB without reading it", async () => {
    const root = await copyFixture();
    await writeFile(join(root, Z), "");
    await truncate(join(root, Z), 33 * 1024 * 1024); // sparse: costs no disk
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toEqual([{ rule: "input.too-large", item: "-", file: Z, line: 1, col: 1 }]);
  });

  it("reports files it does not read, and ignores notes and dotfiles", async () => {
    const root = await copyFixture();
    await writeFile(join(root, "inventory/districts/beta.yml"), "district: {}\n");
    await writeFile(join(root, "inventory/README.md"), "notes\n");
    await writeFile(join(root, "inventory/.editorconfig"), "root = true\n");
    const result = await load(root);
    expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.unknown-file", item: "-", file: "inventory/districts/beta.yml", line: 1, col: 1 }]);
    expect(result.findings[0]?.hint).toBe("rename it to beta.yaml");
    expect(result.inventory).toBeDefined(); // a warning: the rest still loads
  });

  it("reports each missing required file", async () => {
    const root = await copyFixture();
    await rm(join(root, "inventory/operators.yaml"));
    await rm(join(root, "governance"), { recursive: true });
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toEqual([
      { rule: "input.missing-file", item: "-", file: "governance/committee.yaml", line: 1, col: 1 },
      { rule: "input.missing-file", item: "-", file: "inventory/operators.yaml", line: 1, col: 1 },
    ]);
  });

  describe("follows no symbolic link (a pull request's link to a file of the runner)", () => {
    // What a key or passphrase file could hold; a finding that quoted it would put it in the pull request.
    const SECRET = "district:\n  id: hunter2-SECRET-7f3a9c\n  name: hunter2-SECRET-7f3a9c\n";
    const MARK = "hunter2-SECRET-7f3a9c";
    const runnerDirs: string[] = [];
    afterAll(async () => {
      await Promise.all(runnerDirs.map((d) => rm(d, { recursive: true, force: true })));
    });

    async function runnerDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), "amadegi-runner-"));
      runnerDirs.push(dir);
      return dir;
    }

    async function outside(): Promise<string> {
      const dir = await runnerDir();
      await writeFile(join(dir, "passphrase"), SECRET);
      return join(dir, "passphrase");
    }

    it("the same bytes as a plain district file are quoted by findings (so the check below can fail)", async () => {
      const root = await copyFixture();
      await copyFile(await outside(), join(root, Z));
      expect(JSON.stringify((await load(root)).findings)).toContain(MARK);
    });

    it("a district file that is a link: input.symlink naming it, and nothing of its target", async () => {
      const root = await copyFixture();
      const secret = await outside();
      await symlink(secret, join(root, Z));
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.symlink", item: "-", file: Z, line: 1, col: 1 }]);
      expect(result.findings[0]).toMatchObject({ severity: "error", hint: "replace the link with the file itself" });
      expect(result.findings[0]?.message).toContain(join(root, Z));
      expect(JSON.stringify(result.findings)).not.toContain(MARK);
      expect(JSON.stringify(result.findings)).not.toContain(secret);
      expect(result.inventory).toBeUndefined();
    });

    it("a top-level file that is a link: input.symlink, not read, not reported missing", async () => {
      const root = await copyFixture();
      const secret = await outside();
      const election = join(root, "inventory/election.yaml");
      await rm(election);
      await symlink(secret, election);
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.symlink", item: "-", file: "inventory/election.yaml", line: 1, col: 1 }]);
      expect(JSON.stringify(result.findings)).not.toContain(MARK);
    });

    it("a districts directory that is a link: input.symlink, none of its files read", async () => {
      const root = await copyFixture();
      const secret = await outside();
      const elsewhere = await runnerDir();
      await rename(join(root, "inventory/districts/alpha.yaml"), join(elsewhere, "alpha.yaml"));
      await copyFile(secret, join(elsewhere, "zz.yaml"));
      await rm(join(root, "inventory/districts"), { recursive: true });
      await symlink(elsewhere, join(root, "inventory/districts"));
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.symlink", item: "-", file: "inventory/districts", line: 1, col: 1 }]);
      expect(JSON.stringify(result.findings)).not.toContain(MARK);
    });
  });

  it("a directory with no inventory cannot be checked (exit 2), with a hint when it is one level up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-empty-"));
    try {
      await expect(loadInventory(dir)).rejects.toThrow(InventoryError);
      await expect(loadInventory(join(dir, "missing"))).rejects.toThrow(/no inventory directory/);
      await mkdir(join(dir, "inventory"));
      await writeFile(join(dir, "inventory", "election.yaml"), "election: {}\n");
      await expect(loadInventory(dir)).rejects.toMatchObject({ hint: `did you mean --inventory ${join(dir, "inventory")}?` });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
