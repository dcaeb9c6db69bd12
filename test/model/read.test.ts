// Stage 1, read: what cannot be an inventory file is refused with a finding
// naming the file and, where it helps, the byte's position; never a stack trace.
import { copyFile, mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
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
