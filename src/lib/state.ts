import { readdir, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where amadegi keeps its state: one directory, every location in it by name.
 * Here, in the lowest layer, because every layer names some of it — the
 * model resolves stack settings' paths against it, the toolchain puts the
 * Pulumi backend in it, probing writes results, readiness history and drift,
 * the rehearsal its marker, pins and devices, the CLI its defaults. Nothing
 * else spells `.amadegi`: AMADEGI_STATE_DIR moves all of it.
 */

/** The repository root: where Pulumi.yaml and package.json live. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** For usage texts: what `<state>` stands for. */
export const STATE_HELP = "<state> is $AMADEGI_STATE_DIR, default .amadegi at the repository root";

/**
 * The project's state directory (git-ignored), absolute: AMADEGI_STATE_DIR
 * (a relative one from the working directory), else `<repo>/.amadegi`. An
 * empty AMADEGI_STATE_DIR counts as unset: it must never mean "here".
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.AMADEGI_STATE_DIR;
  return given === undefined || given === "" ? join(repoRoot, ".amadegi") : resolve(given);
}

/** The rehearsal's files that stack settings name (the rest of its layout is the rehearsal's own). */
export interface RehearsalPaths {
  /** The rehearsal's state: marker, configs, logs, kept keys (`amadegi rehearsal --state`). */
  readonly dir: string;
  /** The pins overlay `rehearsal up` writes: the servers' host keys, users and roots. */
  readonly pins: string;
  /** Where the stack leaves its authority's certificate, which campaigns trust. */
  readonly ca: string;
  /** The devices' keys and certificate requests. */
  readonly devices: string;
  /** The certificates the stack issued the devices. */
  readonly issued: string;
  /** The device-keys overlay `rehearsal devices keys` writes: the devices' key fingerprints. */
  readonly keys: string;
}

export function rehearsalPaths(dir: string): RehearsalPaths {
  const devices = join(dir, "devices");
  return { dir, pins: join(dir, "pins.yaml"), ca: join(dir, "ca.crt"), devices, issued: join(devices, "issued"), keys: join(devices, "keys.yaml") };
}

export interface StatePaths {
  /** The state directory itself. */
  readonly root: string;
  /** Campaigns' results, `<stack>-<time>.jsonl` (`amadegi check`). */
  readonly results: string;
  /** Signed approvals, MANIFEST and MANIFEST.sig (`amadegi approve`, the gate's sign-off). */
  readonly approvals: string;
  /** The committee's signed revocations of devices, per stack: `<stack>/<device>-<time>.txt` and `.sig` (`amadegi devices revoke`). */
  readonly revocations: string;
  /** Verdicts and drift over time (node:sqlite). */
  readonly history: string;
  /** Validated inventories (the gate's snapshot) and results digests (ADR 0011), by content. */
  readonly cache: string;
  /** Node's compile cache for the CLI's modules (bin/amadegi.js): a cache, checked against each source. */
  readonly compileCache: string;
  /**
   * The files a stack copies to its servers, `<stack>/<sha256>`, written by the program each run: the
   * checkpoint keeps each file's hash and path, never its bytes (ADR 0010). A cache: lost, the next run writes it again.
   */
  readonly assets: string;
  /** Each stack's latest drift report, `<stack>.json`, which the gate judges. */
  readonly drift: string;
  /** The Pulumi file backend. */
  readonly pulumi: string;
  /** Each stack's `up` or `destroy` while its engine runs, `<stack>.json` (ADR 0019): left behind, with the engine's lock, by an engine that died. */
  readonly operations: string;
  /** The passphrase that encrypts the backend's secrets. */
  readonly passphrase: string;
  /** The engine's environment for a plain `pulumi` command. */
  readonly envScript: string;
  readonly rehearsal: RehearsalPaths;
}

/** Every location of the state, under `stateDir(env)`. */
export function statePaths(env: NodeJS.ProcessEnv = process.env): StatePaths {
  const root = stateDir(env);
  return {
    root,
    results: join(root, "results"),
    approvals: join(root, "approvals"),
    revocations: join(root, "revocations"),
    history: join(root, "history.sqlite"),
    cache: join(root, "cache"),
    compileCache: join(root, "cache", "compile"),
    assets: join(root, "assets"),
    drift: join(root, "drift"),
    pulumi: join(root, "pulumi"),
    operations: join(root, "operations"),
    passphrase: join(root, "passphrase"),
    envScript: join(root, "env.sh"),
    rehearsal: rehearsalPaths(join(root, "rehearsal")),
  };
}

/**
 * A path a stack setting names (`amadegi:probe.pins`, `amadegi:pki.caFile`,
 * …): relative to the state directory `root`, so that moving the state moves
 * what the settings point at; an absolute path as written.
 */
export function inState(path: string, root: string): string {
  return isAbsolute(path) ? path : join(root, path);
}

/**
 * The newest results file in `dir` by modification time (the later name on a
 * tie), `*.jsonl`; with `stack`, only that stack's (`<stack>-*.jsonl`, as
 * `amadegi check` names them). Undefined when there is none or no directory.
 */
export async function newestResults(dir: string, stack?: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".jsonl") && (stack === undefined || n.startsWith(`${stack}-`)));
  } catch {
    return undefined;
  }
  // A file removed since the listing, or a directory of that name, is no candidate.
  const stats = await Promise.all(names.map(async (n) => ({ n, s: await stat(join(dir, n)).catch(() => undefined) })));
  const dated = stats.flatMap(({ n, s }) => (s?.isFile() === true ? [{ n, t: s.mtimeMs }] : []));
  const newest = dated.sort((a, b) => b.t - a.t || (a.n < b.n ? 1 : a.n > b.n ? -1 : 0))[0];
  return newest === undefined ? undefined : join(dir, newest.n);
}
