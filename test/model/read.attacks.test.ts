// Issue 14: reading and output attacks, each made for real on disk and run through the CLI's own
// process (`amadegi validate`, text and --format github). Every one is refused with its finding
// (exit 1) or stops the run (exit 2), quickly; none prints a stack trace, a workflow command, or
// anything of a file outside the inventory.
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { fixtureCopy, tempDir } from "../readiness/helpers.ts";

const exec = promisify(execFile);
const SECRET = "TOP-SECRET-RUNNER-PASSPHRASE-5f0c";
const REY = "inventory/districts/rey.yaml";

async function validate(root: string, ...extra: string[]): Promise<{ code: number; text: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [join(repoRoot, "bin/amadegi.js"), "validate", "--inventory", "inventory", "--today", "2027-01-01", ...extra],
      { cwd: root, env: { ...process.env, AMADEGI_DEBUG: undefined }, encoding: "utf8", timeout: 60_000 },
    );
    return { code: 0, text: `${stdout}\n${stderr}` };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, text: `${e.stdout}\n${e.stderr}` };
  }
}

async function replaceIn(root: string, file: string, find: string, replace: string): Promise<void> {
  const path = join(root, file);
  const text = await readFile(path, "utf8");
  if (!text.includes(find)) throw new Error(`${file} has no ${find}`);
  await writeFile(path, text.replace(find, replace));
}

type Attack = readonly [name: string, act: (root: string, outside: string) => Promise<void>, says: RegExp];

const ATTACKS: Attack[] = [
  [
    "a district file linked to a secret outside the inventory",
    async (root, outside) => {
      await rm(join(root, REY));
      await symlink(join(outside, "secret.yaml"), join(root, REY));
    },
    /districts\/rey\.yaml.* input\.symlink/,
  ],
  [
    "the districts directory linked outside",
    async (root, outside) => {
      await mkdir(join(outside, "d"));
      await writeFile(join(outside, "d", "x.yaml"), `# ${SECRET}\n`);
      await rm(join(root, "inventory/districts"), { recursive: true });
      await symlink(join(outside, "d"), join(root, "inventory/districts"));
    },
    /inventory\/districts.* input\.symlink/,
  ],
  [
    "a district file that is a named pipe (no writer: a blocking read would hang)",
    async (root) => {
      await rm(join(root, REY));
      execFileSync("mkfifo", [join(root, REY)]);
    },
    /districts\/rey\.yaml.* input\.not-a-file/,
  ],
  [
    "the committee file linked to /dev/zero",
    async (root) => {
      await rm(join(root, "governance/committee.yaml"));
      await symlink("/dev/zero", join(root, "governance/committee.yaml"));
    },
    /governance\/committee\.yaml.* input\.symlink/,
  ],
  [
    "servers.yaml that is a directory",
    async (root) => {
      await rm(join(root, "inventory/servers.yaml"));
      await mkdir(join(root, "inventory/servers.yaml"));
    },
    /servers\.yaml.* input\.not-a-file/,
  ],
  [
    "a district file of 33 MiB",
    async (root) => {
      await writeFile(join(root, REY), `# ${"x".repeat(33 * 1024 * 1024)}\n`);
    },
    /districts\/rey\.yaml.* input\.too-large/,
  ],
  [
    "a bidi override spelled as a YAML escape",
    async (root) => {
      await replaceIn(root, REY, "name: دبستان یکم", 'name: "دبستان \\u202E یکم"');
    },
    /districts\/rey\.yaml:\d+:\d+ error security\.bidi-control/,
  ],
  [
    "a private key spelled with YAML escapes",
    async (root) => {
      await replaceIn(root, REY, "name: دبستان یکم", `name: "-----BEGIN\\x20OPENSSH PRIVATE KEY-----\\n${SECRET}"`);
    },
    /districts\/rey\.yaml:\d+:\d+ error security\.secret/,
  ],
  [
    "a terminal escape spelled as a YAML escape",
    async (root) => {
      await replaceIn(root, REY, "name: دبستان یکم", 'name: "\\x1b]0;pwned\\x07"');
    },
    /districts\/rey\.yaml:\d+:\d+ error yaml\.syntax/,
  ],
  [
    "an operator's egress of the whole internet",
    async (root) => {
      await replaceIn(root, "inventory/operators.yaml", "egress: [100.64.0.0/25]", "egress: [0.0.0.0/0]");
    },
    /operators\.yaml:\d+:\d+ error schema\.bad-value .*0\.0\.0\.0\/0 is wider than \/16/,
  ],
  [
    "a station name that breaks the line to start a workflow command",
    async (root) => {
      await replaceIn(root, REY, "kind: fixed", 'kind: "fixd\\n::error::READY"');
    },
    /districts\/rey\.yaml:\d+:\d+ error schema\.bad-value .*fixd\\n::error::READY/,
  ],
];

describe("reading and output attacks through amadegi validate", () => {
  it("the untouched copy validates (so each refusal below is the attack's)", async () => {
    const root = await fixtureCopy();
    const run = await validate(root);
    expect(run.text).toMatch(/0 errors/);
    expect(run.code).toBe(0);
  });

  it.each(ATTACKS)("refuses %s", async (_name, act, says) => {
    const root = await fixtureCopy();
    const outside = await tempDir("amadegi-outside-");
    await writeFile(join(outside, "secret.yaml"), `district:\n  id: rey\n  name: ${SECRET}\n`);
    await act(root, outside);
    for (const format of ["text", "github"]) {
      const run = await validate(root, "--format", format);
      expect(run.code, run.text.slice(0, 2000)).toBe(1);
      if (format === "text") expect(run.text).toMatch(says);
      expect(run.text).not.toContain(SECRET);
      expect(run.text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      // In --format github the project's own annotations are the only commands: one per finding, never from data.
      const commands = run.text.split(/\r?\n/).filter((l) => /^[\s\u0085\u00a0]*::/.test(l));
      if (format === "text") expect(commands).toEqual([]);
      else for (const c of commands) expect(c).toMatch(/^::(error|warning|notice) file=[^,:]+,line=\d+,col=\d+,title=[^:]+::/);
    }
  });
});
