// `amadegi generate`: a deterministic synthetic inventory that validates.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: process.cwd(), env: process.env }, out, err };
}

async function digest(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const f of files) hash.update(f.slice(dir.length)).update(await readFile(f));
  return hash.digest("hex");
}

async function generate(...args: string[]): Promise<{ dir: string; code: number; out: string[]; err: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-generate-"));
  dirs.push(dir);
  const { io, out, err } = capture();
  const code = await main(["generate", "--out", dir, ...args], io);
  return { dir, code, out, err };
}

describe("amadegi generate", () => {
  it("writes an inventory that validates, the same bytes for the same seed", async () => {
    const a = await generate("--stations", "1200", "--seed", "5");
    const b = await generate("--stations", "1200", "--seed", "5");
    const c = await generate("--stations", "1200", "--seed", "6");
    expect(a.code).toBe(0);
    expect(a.out[0]).toBe(
      `wrote 36 files (1200 stations in 31 districts) to ${a.dir}; validate with: amadegi validate --inventory ${join(a.dir, "inventory")}`,
    );
    expect(await digest(a.dir)).toBe(await digest(b.dir));
    expect(await digest(a.dir)).not.toBe(await digest(c.dir));
    const { io, out } = capture();
    expect(await main(["validate", "--inventory", join(a.dir, "inventory"), "--today", "2026-11-22"], io)).toBe(0);
    expect(out.at(-1)).toMatch(/1200 stations, \d+ links, \d+ servers \(as of 2026-11-22\): 0 errors, \d+ warnings, 0 waived$/);
  });

  it.each([
    [["--out", "x"], "generate needs --stations N"],
    [["--stations", "many", "--out", "x"], "--stations many: expected a whole number"],
    [["--stations", "10"], "generate needs --out DIR"],
  ])("exits 2 on %j", async (args, message) => {
    const { io, err } = capture();
    expect(await main(["generate", ...args], io)).toBe(2);
    expect(err.join("\n")).toContain(message);
  });
});
