import { isAbsolute, join, relative, resolve } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { ownEntry } from "../lib/records.ts";
import { run } from "../toolchain/inspect.ts";

/**
 * The gate judges what was committed (issue 13, docs/security.md). The files
 * that decide a verdict besides the results are compared, byte for byte
 * through git, with the commit judged; a sign-off's commit must be on main
 * and its committee main's. Fail closed: a repository git cannot read (not
 * installed, "dubious ownership") stops the gate; only a directory that is in
 * no repository at all is judged as it is (tests, a first try), and such a
 * gate can never count an approval.
 */

/**
 * The files that decide a verdict besides the results, as the repository lays
 * them out. `.github/CODEOWNERS` gives each to the committee alone (a test holds
 * it); the gate refuses to judge when one differs from the commit it judges.
 * `inventory/` and `governance/committee.yaml` follow `--inventory` and `--committee`.
 */
export const DECIDING_FILES = [
  // Election day and time zone, the change freeze, milestones (criteria, dates, thresholds,
  // maximum result age, unknown share, quorum), the blind-spot threshold, the service ranges.
  "inventory/election.yaml",
  // Deficiencies the committee accepted.
  "inventory/waivers.yaml",
  // Who approves, with which key.
  "governance/committee.yaml",
  // What is probed and each check's pass conditions.
  "checks/",
] as const;

export interface Committed {
  /** The repository's top level; absent when the inventory is in no git repository. */
  readonly root?: string;
  /** The commit judged: the one asked for (`--commit`), else HEAD. */
  readonly commit?: string;
  /** Inventory files (not deciding ones: those stop the gate) that differ from the commit, relative to the root. */
  readonly changed: readonly string[];
  /** The deciding files, relative to the root. */
  readonly deciding: readonly string[];
  /** The committee file, relative to the root (a sign-off compares it with main's). */
  readonly committee?: string;
}

async function git(root: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Paths are literal (never globs), and no helper program of the repository's configuration runs.
  const result = await run("git", ["-C", root, "--literal-pathspecs", "-c", "core.fsmonitor=false", ...args], { timeoutMs: 60_000 });
  if (result.error !== undefined && result.code === null) {
    throw new UsageError(`git ${args[0] ?? ""} could not run: ${result.error}`, { hint: "install git: the gate compares the inventory with its commit" });
  }
  return result;
}

/** The repository's top level, or undefined when `dir` is in none; any other failure throws. */
export async function gitRoot(dir: string): Promise<string | undefined> {
  const result = await git(resolve(dir), ["rev-parse", "--show-toplevel"]);
  if (result.code === 0) return result.stdout.trim();
  if (/not a git repository/i.test(result.stderr)) return undefined;
  throw new UsageError(`git cannot read the repository holding ${dir}: ${firstLine(result.stderr)}`, {
    hint: "fix the checkout (for 'dubious ownership', run the gate as the checkout's owner); the gate judges only what git can vouch for",
    file: dir,
  });
}

/** The full commit id `ref` names, or undefined when it names none. */
export async function resolveCommit(root: string, ref: string): Promise<string | undefined> {
  if (ref.startsWith("-")) return undefined;
  const result = await git(root, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** A path whose working-tree state is not the commit's, and how. */
export interface Difference {
  /** Relative to the repository's top level. */
  readonly path: string;
  readonly change: "added" | "deleted" | "modified" | "type changed" | "changed" | "not committed";
}

/** A difference as messages show it: `path (how)`. */
export const describeDifference = (d: Difference): string => `${d.path} (${d.change})`;

const CHANGES: Readonly<Record<string, Difference["change"]>> = { A: "added", D: "deleted", M: "modified", T: "type changed" };

/** What the working tree has that the commit has not (or not so), for these paths, sorted by path. */
export async function differences(root: string, commit: string, paths: readonly string[]): Promise<Difference[]> {
  const out: Difference[] = [];
  const diff = await git(root, ["diff", "--no-ext-diff", "--no-textconv", "--no-renames", "--name-status", "-z", commit, "--", ...paths]);
  if (diff.code !== 0) throw new UsageError(`git diff against ${commit.slice(0, 12)} failed: ${firstLine(diff.stderr)}`, { file: root });
  const fields = diff.stdout.split("\0").filter((f) => f !== "");
  for (let i = 0; i + 1 < fields.length; i += 2) out.push({ path: fields[i + 1] ?? "", change: ownEntry(CHANGES, fields[i] ?? "") ?? "changed" });
  // Untracked files count, ignored ones too: a .gitignore entry must not hide a file the loader reads.
  const others = await git(root, ["ls-files", "--others", "-z", "--", ...paths]);
  if (others.code !== 0) throw new UsageError(`git ls-files failed: ${firstLine(others.stderr)}`, { file: root });
  for (const path of others.stdout.split("\0").filter((f) => f !== "")) out.push({ path, change: "not committed" });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Whether `commit` is `main` or one of its ancestors. */
export async function isAncestor(root: string, commit: string, main: string): Promise<boolean> {
  const result = await git(root, ["merge-base", "--is-ancestor", commit, main]);
  if (result.code === 0) return true;
  if (result.code === 1) return false;
  throw new UsageError(`git merge-base failed: ${firstLine(result.stderr)}`, { file: root });
}

/** The blob id of `path` at `commit`, or undefined when the commit has no such file. */
export async function blobAt(root: string, commit: string, path: string): Promise<string | undefined> {
  const result = await git(root, ["rev-parse", "--verify", "--quiet", `${commit}:${path}`]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** The main branch to check a sign-off against: the one named, else origin/main, else main. */
export async function mainBranch(root: string, named?: string): Promise<{ ref: string; commit: string } | undefined> {
  for (const ref of named === undefined ? ["refs/remotes/origin/main", "refs/heads/main"] : [named]) {
    const commit = await resolveCommit(root, ref);
    if (commit !== undefined) return { ref: ref.replace(/^refs\/(heads|remotes)\//, ""), commit };
  }
  return undefined;
}

/**
 * The commit the gate judges and the proof that the deciding files are that
 * commit's: any difference throws (exit 2), naming each file and what to do.
 */
export async function committedState(options: { inventory: string; committeeFile?: string; commit?: string }): Promise<Committed> {
  const root = await gitRoot(options.inventory);
  if (root === undefined) {
    if (options.commit !== undefined)
      throw new UsageError(`--commit ${options.commit}: ${options.inventory} is not in a git repository`, {
        hint: "run the gate in the repository's checkout",
      });
    return { changed: [], deciding: [] };
  }
  const ref = options.commit ?? "HEAD";
  const commit = await resolveCommit(root, ref);
  if (commit === undefined) {
    if (options.commit === undefined) return { root, changed: [], deciding: [] }; // a repository with no commit yet
    throw new UsageError(`--commit ${options.commit} names no commit in ${root}`, {
      hint: "give the full commit id the approvals name (inventory-commit); the workflow must fetch history (fetch-depth: 0)",
    });
  }
  const inside = (path: string): string => {
    const rel = relative(root, resolve(path));
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new UsageError(`${path} is outside the repository ${root}: the gate judges only committed files`, {
        hint: "keep the inventory and the committee file in the repository",
      });
    }
    return rel.split("\\").join("/");
  };
  const inventory = inside(options.inventory) || ".";
  const committee = inside(options.committeeFile ?? join(options.inventory, "..", "governance", "committee.yaml"));
  const deciding = DECIDING_FILES.map((f) =>
    f.startsWith("inventory/") ? join(inventory, f.slice("inventory/".length)) : f === "governance/committee.yaml" ? committee : f,
  );
  // One look at the inventory and the deciding files together (some deciding files are in the inventory).
  const all = await differences(root, commit, [inventory, ...deciding]);
  const decides = (path: string): boolean => deciding.some((d) => (d.endsWith("/") ? path.startsWith(d) : path === d));
  const decidingChanged = all.filter((d) => decides(d.path));
  if (decidingChanged.length > 0) {
    throw new UsageError(
      `the files that decide the verdict differ from commit ${commit.slice(0, 12)}` +
        `${options.commit === undefined ? " (HEAD)" : ""}: ${decidingChanged.map(describeDifference).join(", ")}`,
      {
        hint:
          "the gate judges only what was committed and reviewed: " +
          "restore them (git checkout -- FILE) or change them through a pull request the committee approves",
        file: join(root, decidingChanged[0]?.path ?? ""),
      },
    );
  }
  // No deciding file differs, so whatever does is an inventory file.
  const changed = all.map(describeDifference);
  return { root, commit, changed, deciding, committee };
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
