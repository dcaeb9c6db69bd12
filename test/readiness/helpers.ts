// Helpers for the readiness tests: a fresh copy of the readiness fixture (a real
// inventory under test/fixtures/readiness), edits to it, synthetic results in
// the campaign format (never probes), a git commit for sign-off, ssh keys.
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import { type Inventory, loadInventory } from "../../src/model/index.ts";
import { type SyntheticOptions, writeSyntheticResults } from "../../src/readiness/synthetic.ts";

export const exec = promisify(execFile);
export const FIXTURE = join(import.meta.dirname, "..", "fixtures", "readiness");

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(prefix = "amadegi-readiness-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A fresh copy of the fixture: `<root>/inventory`, `<root>/governance`. */
export async function fixtureCopy(): Promise<string> {
  const root = await tempDir();
  await cp(FIXTURE, root, { recursive: true });
  return root;
}

/** Replace the one occurrence of `find` in a file of the copy. */
export async function edit(root: string, file: string, find: string, replace: string): Promise<void> {
  const path = join(root, file);
  const text = await readFile(path, "utf8");
  const count = text.split(find).length - 1;
  if (count !== 1) throw new Error(`${file}: expected one "${find}", found ${count}`);
  await writeFile(path, text.replace(find, replace));
}

/**
 * Adds a `pki` server (the election's CA lives on it: ADR 0008) at `address` to the inventory in
 * `inventoryDir`, whose servers.yaml ends with its servers list: the small fixtures have none.
 */
export async function addPkiServer(inventoryDir: string, address = "10.0.0.40"): Promise<void> {
  const path = join(inventoryDir, "servers.yaml");
  const text = await readFile(path, "utf8");
  const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7KCamfpqW9vaiVXXWcDPgNsISINRS1reeNulgtrh+E";
  const line = `  - { id: pki-a, roles: [pki], address: ${address}, site: DC-B, ssh: { hostKey: ${hostKey} } }\n`;
  await writeFile(path, `${text.trimEnd()}\n${line}`);
}

export const DISTRICT = "inventory/districts/rey.yaml";
export const ELECTION = "inventory/election.yaml";
export const WAIVERS = "inventory/waivers.yaml";

export async function inventoryOf(root: string, today?: string): Promise<Inventory> {
  const loaded = await loadInventory(join(root, "inventory"), today === undefined ? {} : { today });
  if (loaded.inventory === undefined) throw new Error(`fixture does not load: ${loaded.findings.map((f) => f.message).join("; ")}`);
  return loaded.inventory;
}

/** Write synthetic results for the copy's inventory; returns the file's path. */
export async function resultsFor(root: string, options: SyntheticOptions, name = "results.jsonl"): Promise<string> {
  const path = join(root, name);
  writeSyntheticResults(path, await inventoryOf(root), options);
  return path;
}

/** Run git in the copy, as a committer with no configuration of their own. */
export async function git(root: string, ...args: string[]): Promise<string> {
  return (await exec("git", ["-C", root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", ...args])).stdout.trim();
}

/** Commit everything of the copy (a repository on branch main, made on first use); returns the commit. */
export async function commitAll(root: string, message = "inventory"): Promise<string> {
  await git(root, "init", "-q", "-b", "main");
  await git(root, "add", "inventory", "governance");
  await git(root, "commit", "-q", "--allow-empty", "-m", message);
  return git(root, "rev-parse", "HEAD");
}

/** A new ed25519 key pair in dir; returns the private key's path and the public key line. */
export async function newKey(dir: string, name: string): Promise<{ path: string; pub: string }> {
  const path = join(dir, name);
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  return { path, pub: (await readFile(`${path}.pub`, "utf8")).trim() };
}
