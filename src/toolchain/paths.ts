import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: where Pulumi.yaml and package.json live. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Built tools are cached by version outside the repository, so a fresh clone
 * on the same machine reuses them. AMADEGI_CACHE moves it (CI, cold-build runs).
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AMADEGI_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "amadegi");
}

/** Where one version of a built tool lives: `<cache>/tools/<binary>-<version>/`. */
export function toolDir(binary: string, version: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), "tools", `${binary}-${version}`);
}

/**
 * The project's state directory (git-ignored): the Pulumi file backend, the
 * passphrase that encrypts its secrets, results. AMADEGI_STATE_DIR moves it.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AMADEGI_STATE_DIR ?? join(repoRoot, ".amadegi");
}
