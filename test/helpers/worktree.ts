// The repository's tracked files as they are in the working tree (so uncommitted edits are tested
// too), copied to another directory: what a checkout at another path holds.
import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { git } from "../readiness/helpers.ts";

/** Copy every tracked file of the working tree into `dest` (one deleted in the working tree is left out). */
export async function copyWorkingTree(dest: string): Promise<void> {
  const tracked = (await git(repoRoot, "ls-files", "-z")).split("\0").filter((p) => p !== "");
  for (const path of tracked) {
    if (!existsSync(join(repoRoot, path))) continue;
    await mkdir(dirname(join(dest, path)), { recursive: true });
    await copyFile(join(repoRoot, path), join(dest, path));
  }
}
