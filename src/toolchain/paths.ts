import { homedir } from "node:os";
import { join } from "node:path";

// The repository root and the state directory live in src/lib/state.ts, the
// lowest layer, since every layer names some of the state; re-exported here
// for the toolchain's callers.
export { repoRoot, stateDir, statePaths, type StatePaths } from "../lib/state.ts";

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
