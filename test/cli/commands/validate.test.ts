// `amadegi validate`: exit codes, the one-line-per-finding format, --json, and
// that it writes nothing.
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
const MINIMAL = join(REPO, "test/fixtures/inventory/minimal");
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: REPO, env: process.env }, out, err };
}

async function minimalCopy(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "amadegi-validate-"));
  dirs.push(root);
  await cp(MINIMAL, root, { recursive: true });
  return root;
}

async function listing(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.map(async (e) => `${join(e.parentPath, e.name)} ${(await stat(join(e.parentPath, e.name))).mtimeMs}`));
}

describe("amadegi validate", () => {
  it("exits 0 on the sample inventory and prints its deficiencies, one per line, then a summary", async () => {
    const { io, out } = capture();
    const before = await listing(join(REPO, "inventory"));
    expect(await main(["validate", "--today", "1405-09-01"], io)).toBe(0);
    expect(out.at(-1)).toBe("inventory: 11 files, 1415 stations, 2831 links, 20 servers (as of 2026-11-22): 0 errors, 8 warnings, 3 waived");
    expect(out).toContain(
      "inventory/districts/pakdasht.yaml:2123:49 warning lifecycle.overdue PKD-0088-F: link PKD-0088-F (fiber, tci) at station PKD-0088 " +
        "was committed for 1405-08-15 (2026-11-06) and is still ordered, 16 days late; " +
        "owner: tci (ask tci for a new date and record it, or record a waiver)",
    );
    expect(out.filter((l) => l.includes("[waived by W-00"))).toHaveLength(3);
    expect(await listing(join(REPO, "inventory"))).toEqual(before); // validate writes nothing
  });

  it("exits 1 on an error, naming file:line:col, the item, what is wrong and what to do", async () => {
    const root = await minimalCopy();
    const file = join(root, "inventory/districts/alpha.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(
      file,
      text.replace("        operator: mci\n        pop: TW-MCI-1\n        address", "        operator: mcii\n        pop: TW-MCI-1\n        address"),
    );
    const { io, out } = capture();
    expect(await main(["validate", "--inventory", join(root, "inventory"), "--today", "2026-11-22"], io)).toBe(1);
    expect(out[0]).toBe(
      `${file}:25:19 error reference.unknown A-1: link A-1-M names operator "mcii" — no such operator ` +
        `(did you mean "mci"?) (use an operator id from operators.yaml)`,
    );
    expect(out.at(-1)).toMatch(/: 1 errors, 0 warnings, 0 waived$/);
  });

  it("gives the same findings as data with --json", async () => {
    const root = await minimalCopy();
    const file = join(root, "inventory/districts/alpha.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("signalDbm: -80", "signalDbm: -117"));
    const { io, out } = capture();
    expect(await main(["validate", "--inventory", join(root, "inventory"), "--json", "--today", "2026-11-22"], io)).toBe(1);
    const report = JSON.parse(out.join("\n"));
    expect(report).toMatchObject({ ok: false, stations: 3, errors: 1, warnings: 1, waived: 0 });
    expect(report.findings).toEqual([
      expect.objectContaining({ severity: "error", rule: "redundancy.fixed-diversity", file, line: 16, col: 7, item: "A-1", waivable: true }),
      expect.objectContaining({ severity: "warning", rule: "redundancy.blind-spot", file, line: 28, col: 30, item: "A-1-M", waivable: true }),
    ]);
  });

  it("exits 2 when there is no inventory to check", async () => {
    const empty = await mkdtemp(join(tmpdir(), "amadegi-empty-"));
    dirs.push(empty);
    const { io, err } = capture();
    expect(await main(["validate", "--inventory", empty], io)).toBe(2);
    expect(err.join("\n")).toContain(`InventoryError: ${empty}: no inventory in ${empty}`);
  });

  it("exits 2 on a --today that is not a date", async () => {
    const { io, err } = capture();
    expect(await main(["validate", "--today", "1405-13-01"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/UsageError: --today 1405-13-01: .*Jalali/);
  });
});
