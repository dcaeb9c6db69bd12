// Stage 1, read: what cannot be an inventory file is refused with a finding
// naming the file and, where it helps, the byte's position; never a stack trace.
import { execFileSync, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InventoryError } from "../../src/lib/errors.ts";
import { FindingSink } from "../../src/model/finding.ts";
import { loadInventory } from "../../src/model/index.ts";
import { readSource } from "../../src/model/read.ts";
import { copyFixture, edit, type Expected, FIXTURES, load, shape } from "./fixture.ts";

const Z = "inventory/districts/zz.yaml";

/** When the writer of `fifo` writes: long after a loader that refuses the pipe is done. */
const WRITER_AFTER_MS = 5000;

/**
 * A named pipe at `path`, and a writer (a process of ours) that opens it after
 * WRITER_AFTER_MS. A loader that opened the pipe blocking would wait for it —
 * a test timeout cannot interrupt a synchronous read — and then read what it
 * writes, so a regression fails late instead of hanging. `stop` ends the writer.
 */
function fifo(path: string): { stop: () => void } {
  execFileSync("mkfifo", [path]);
  const script = `setTimeout(() => require("node:fs").writeFileSync(process.argv[1], "district: {}\\n"), ${WRITER_AFTER_MS})`;
  const writer = spawn(process.execPath, ["-e", script, path], { stdio: "ignore" });
  return { stop: () => writer.kill() };
}

async function timed<T>(run: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

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
    expect(result.findings.map((f) => shape(root, f))).toEqual([
      { rule: "input.unknown-file", item: "-", file: "inventory/districts/beta.yml", line: 1, col: 1 },
    ]);
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

  describe("reads only regular files, inside the inventory (special files, links to devices)", () => {
    it(
      "a named pipe as a district file: refused at once, naming it, never waited on",
      async () => {
        const root = await copyFixture();
        const pipe = fifo(join(root, Z));
        try {
          const { value: result, ms } = await timed(() => load(root));
          expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.not-a-file", item: "-", file: Z, line: 1, col: 1 }]);
          expect(result.findings[0]?.message).toContain("is a named pipe (FIFO), not a regular file");
          expect(ms).toBeLessThan(WRITER_AFTER_MS);
        } finally {
          pipe.stop();
        }
      },
      3 * WRITER_AFTER_MS,
    );

    it.each([
      {
        what: "policy",
        plant: { find: "signalDbm: -80", replace: "signalDbm: -117" },
        expected: [
          { rule: "redundancy.fixed-diversity", item: "A-1", file: "inventory/districts/alpha.yaml", line: 16, col: 7 },
          { rule: "redundancy.blind-spot", item: "A-1-M", file: "inventory/districts/alpha.yaml", line: 28, col: 30 },
        ],
      },
      {
        what: "schema",
        plant: { find: "medium: fiber\n        operator: tci\n        pop: EX-1", replace: "medium: fibre\n        operator: tci\n        pop: EX-1" },
        expected: [{ rule: "schema.bad-value", item: "A-1-F", file: "inventory/districts/alpha.yaml", line: 17, col: 17 }],
      },
    ])(
      "a refused district (a named pipe) hides nothing of another: alpha's $what findings still reported",
      async ({ plant, expected }) => {
        const root = await copyFixture();
        await edit(root, "inventory/districts/alpha.yaml", plant.find, plant.replace);
        const pipe = fifo(join(root, Z));
        try {
          const result = await load(root);
          expect(result.findings.map((f) => shape(root, f))).toEqual([...expected, { rule: "input.not-a-file", item: "-", file: Z, line: 1, col: 1 }]);
          expect(result.inventory).toBeUndefined(); // the contract's inventory is whole, or absent
        } finally {
          pipe.stop();
        }
      },
      3 * WRITER_AFTER_MS,
    );

    it("a link to /dev/zero as a district file: input.symlink, nothing read", async () => {
      const root = await copyFixture();
      await symlink("/dev/zero", join(root, Z));
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.symlink", item: "-", file: Z, line: 1, col: 1 }]);
    });

    it("a link to /dev/zero as governance/committee.yaml: input.symlink, the rest still checked", async () => {
      const root = await copyFixture();
      await rm(join(root, "governance/committee.yaml"));
      await symlink("/dev/zero", join(root, "governance/committee.yaml"));
      await edit(root, "inventory/districts/alpha.yaml", "signalDbm: -80", "signalDbm: -117");
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([
        { rule: "input.symlink", item: "-", file: "governance/committee.yaml", line: 1, col: 1 },
        { rule: "redundancy.fixed-diversity", item: "A-1", file: "inventory/districts/alpha.yaml", line: 16, col: 7 },
        { rule: "redundancy.blind-spot", item: "A-1-M", file: "inventory/districts/alpha.yaml", line: 28, col: 30 },
      ]);
      expect(result.findings[0]?.message).toContain("waivers' approvers cannot be checked");
    });

    it("governance/ as a link: input.symlink naming the directory, its committee file not read", async () => {
      const root = await copyFixture();
      const elsewhere = await mkdtemp(join(tmpdir(), "amadegi-governance-"));
      try {
        await rename(join(root, "governance/committee.yaml"), join(elsewhere, "committee.yaml"));
        await rm(join(root, "governance"), { recursive: true });
        await symlink(elsewhere, join(root, "governance"));
        const result = await load(root);
        expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.symlink", item: "-", file: "governance", line: 1, col: 1 }]);
        expect(result.sources.get(join(elsewhere, "committee.yaml"))).toBeUndefined();
        expect(result.inventory).toBeUndefined();
      } finally {
        await rm(elsewhere, { recursive: true, force: true });
      }
    });

    it("the inventory directory itself may be a link (a checkout may be); nothing under it may", async () => {
      const root = await copyFixture();
      const link = `${root}-link`;
      await symlink(join(root, "inventory"), link);
      try {
        const result = await loadInventory(link, { committeeFile: join(root, "governance/committee.yaml"), today: "2026-11-22" });
        expect(result.findings).toEqual([]);
        expect(result.inventory?.stations).toHaveLength(3);
      } finally {
        await rm(link);
      }
    });

    it.each([
      {
        what: "a directory named x.yaml under districts",
        make: (root: string) => mkdir(join(root, Z)),
        file: Z,
        message: "is a directory, not a regular file",
      },
      {
        what: "a directory named servers.yaml",
        make: async (root: string) => {
          await rm(join(root, "inventory/servers.yaml"));
          await mkdir(join(root, "inventory/servers.yaml"));
        },
        file: "inventory/servers.yaml",
        message: "is a directory, not a regular file",
      },
      {
        what: "a file named districts",
        make: async (root: string) => {
          await rm(join(root, "inventory/districts"), { recursive: true });
          await writeFile(join(root, "inventory/districts"), "x\n");
        },
        file: "inventory/districts",
        message: "is a regular file, not a directory",
      },
    ])("$what: input.not-a-file", async ({ make, file, message }) => {
      const root = await copyFixture();
      await make(root);
      const result = await load(root);
      expect(result.findings.map((f) => shape(root, f))).toEqual([{ rule: "input.not-a-file", item: "-", file, line: 1, col: 1 }]);
      expect(result.findings[0]?.message).toContain(message);
    });

    // A file swapped for a link or a pipe between readdir and open cannot be staged
    // reliably from a test (the window is microseconds). The defence does not depend on
    // the listing: readSource opens with O_NOFOLLOW | O_NONBLOCK and judges what it opened
    // with fstat. These call it directly on what the listing would have called a file.
    // (A directory of the path swapped for a link is outside the threat: a pull request
    // controls the checkout's content, not a process writing to it during the run.)
    it(
      "readSource refuses a link and a named pipe by what it opens, not by the listing",
      async () => {
        const root = await copyFixture();
        const sink = new FindingSink();
        await symlink("/dev/zero", join(root, "zero.yaml"));
        expect(readSource(join(root, "zero.yaml"), sink)).toBeUndefined();
        const pipe = fifo(join(root, "pipe.yaml"));
        try {
          const { value, ms } = await timed(() => readSource(join(root, "pipe.yaml"), sink, "its stations are not checked"));
          expect(value).toBeUndefined();
          expect(ms).toBeLessThan(WRITER_AFTER_MS);
        } finally {
          pipe.stop();
        }
        expect(readSource(join(root, "gone.yaml"), sink)).toBeUndefined();
        expect(sink.close().map((f) => [f.rule, f.message.replace(root, "ROOT")])).toEqual([
          ["input.symlink", "ROOT/zero.yaml is a symbolic link; links are not followed and it is not read"],
          ["input.not-a-file", "ROOT/pipe.yaml is a named pipe (FIFO), not a regular file; it is not read (its stations are not checked)"],
          ["input.missing-file", "ROOT/gone.yaml does not exist"],
        ]);
      },
      3 * WRITER_AFTER_MS,
    );
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
