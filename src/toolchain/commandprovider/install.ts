/**
 * Installing the stand-in command provider where the engine finds it. The engine copies a plugin
 * file alone (`pulumi plugin install resource command 1.2.1 --file <file>` puts it in
 * $PULUMI_HOME/plugins/resource-command-v1.2.1/), so that file is a launcher naming absolute paths
 * outside any checkout: the Node setup installed, and a copy of the provider's code in the tool
 * cache beside its own node_modules, installed with `npm ci` from the committed, pinned
 * scripts/plugins/command/package-lock.json. A checkout deleted afterwards takes nothing with it.
 * Never replaces a plugin that is not ours (Pulumi's own, where it could be had, wins).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, cp, mkdir, open, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { run } from "../inspect.ts";
import { repoRoot, toolDir } from "../paths.ts";
import { PLUGIN_BINARY, PLUGIN_VERSION, STANDIN_MARKER, STANDIN_VERSION } from "./index.ts";

/** The files the provider runs (this one, which only setup runs, stays in the checkout). */
export const RUNTIME_FILES: readonly string[] = ["index.ts", "check.ts", "local.ts", "remote.ts", "resources.ts", "ssh.ts", "wire.ts"];
export const SOURCE_DIR = join(repoRoot, "src", "toolchain", "commandprovider");
/** The provider's package.json and package-lock.json: its dependencies, pinned. */
export const PACKAGE_DIR = join(repoRoot, "scripts", "plugins", "command");
const PACKAGE_FILES = ["package.json", "package-lock.json"];

/** Where setup keeps the provider's code: `<cache>/tools/pulumi-resource-command-v1.2.1-amadegi.1/`. */
export function codeDir(env: NodeJS.ProcessEnv = process.env): string {
  return toolDir(PLUGIN_BINARY, `v${STANDIN_VERSION}`, env);
}

/** Where the engine looks for the plugin: $PULUMI_HOME/plugins/resource-command-v1.2.1/pulumi-resource-command. */
export function pluginPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PULUMI_HOME ?? join(homedir(), ".pulumi"), "plugins", `resource-command-v${PLUGIN_VERSION}`, PLUGIN_BINARY);
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The launcher: a fixed Node and the provider's entry in the cache, nothing in a checkout or on PATH. */
export function launcherScript(node: string, entry: string): string {
  return (
    `#!/bin/sh\n# ${STANDIN_MARKER} ${STANDIN_VERSION}\n` +
    `# amadegi's stand-in for Pulumi's ${PLUGIN_BINARY}, installed by scripts/setup.\n` +
    `exec ${quote(node)} ${quote(entry)} "$@"\n`
  );
}

/** sha256 over the provider's runtime files and its lockfile (names and contents, in order): what runs. */
export async function codeDigest(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const files = [...RUNTIME_FILES.map((f) => join("provider", f)), "package-lock.json"].sort();
  for (const file of files)
    hash
      .update(file)
      .update("\0")
      .update(await readFile(join(dir, file)))
      .update("\0");
  return hash.digest("hex");
}

async function head(path: string): Promise<string> {
  // The first bytes only: where Pulumi's provider is installed, this is a large Go binary.
  const file = await open(path);
  try {
    const { bytesRead, buffer } = await file.read(Buffer.alloc(512), 0, 512, 0);
    return buffer.subarray(0, bytesRead).toString("latin1");
  } finally {
    await file.close();
  }
}

/**
 * Our stand-in at `launcher`, by its marker: its version, the sha256 of the code it runs, where that
 * is, and its Node. A launcher with the marker whose code is gone (its tool cache was removed) is
 * still ours, with version "missing": setup installs it again instead of taking it for Pulumi's.
 */
export async function standInAt(launcher: string): Promise<{ version: string; sha256: string; code: string; node: string } | undefined> {
  let script: string;
  try {
    script = await head(launcher);
  } catch {
    return undefined;
  }
  if (!script.includes(`# ${STANDIN_MARKER} `)) return undefined;
  const words = [...(/^exec '((?:[^']|'\\'')*)' '((?:[^']|'\\'')*)'/m.exec(script) ?? [])].map((w) => w.replaceAll("'\\''", "'"));
  const [, node = "", entry = ""] = words;
  const code = dirname(dirname(entry));
  try {
    const text = await readFile(entry, "utf8");
    const version = /STANDIN_VERSION = "([^"]+)"/.exec(text)?.[1] ?? "unknown";
    return { version, sha256: await codeDigest(code), code, node };
  } catch {
    return { version: "missing", sha256: "", code, node };
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a).catch(() => undefined), readFile(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.equals(y);
}

export interface InstallOptions {
  readonly node: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly sourceDir?: string;
  readonly packageDir?: string;
  /** Link this node_modules instead of `npm ci` (tests, to stay off the network). */
  readonly nodeModules?: string;
}

/**
 * The provider's code, its dependencies and its launcher in the tool cache. `npm ci` runs only when
 * the lockfile changed or node_modules is missing; a changed source is copied over in place.
 */
export async function installCode(options: InstallOptions): Promise<{ action: "installed" | "updated" | "unchanged"; launcher: string; dir: string }> {
  const dir = codeDir(options.env);
  const sourceDir = options.sourceDir ?? SOURCE_DIR;
  const packageDir = options.packageDir ?? PACKAGE_DIR;
  const launcher = join(dir, PLUGIN_BINARY);
  const script = launcherScript(options.node, join(dir, "provider", "index.ts"));
  const modulesOk = existsSync(join(dir, "node_modules", "@pulumi", "pulumi", "package.json"));
  const lockSame = await sameFile(join(packageDir, "package-lock.json"), join(dir, "package-lock.json"));
  const filesSame = async () => {
    for (const f of RUNTIME_FILES) if (!(await sameFile(join(sourceDir, f), join(dir, "provider", f)))) return false;
    return (await sameFile(join(packageDir, "package.json"), join(dir, "package.json"))) && (await readFile(launcher, "utf8").catch(() => "")) === script;
  };
  if (modulesOk && lockSame && (await filesSame())) return { action: "unchanged", launcher, dir };
  const existed = existsSync(dir);
  const target = modulesOk && lockSame ? dir : `${dir}.partial`;
  if (target !== dir) await rm(target, { recursive: true, force: true });
  await mkdir(join(target, "provider"), { recursive: true });
  for (const f of RUNTIME_FILES) await cp(join(sourceDir, f), join(target, "provider", f));
  for (const f of PACKAGE_FILES) await cp(join(packageDir, f), join(target, f));
  if (target !== dir) {
    if (options.nodeModules !== undefined) await symlink(options.nodeModules, join(target, "node_modules"));
    else {
      const ci = await run("npm", ["ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund"], {
        cwd: target,
        env: options.env ?? process.env,
        timeoutMs: 600_000,
      });
      if (ci.code !== 0) {
        await rm(target, { recursive: true, force: true });
        const said = ci.stderr.trim().split("\n").at(-1) ?? "";
        throw new Error(`npm ci in ${target} failed: ${said === "" ? (ci.error ?? "no output") : said}; is the npm registry reachable?`);
      }
    }
  }
  await writeFile(join(target, `${PLUGIN_BINARY}.partial`), script, { mode: 0o755 });
  await chmod(join(target, `${PLUGIN_BINARY}.partial`), 0o755);
  await rename(join(target, `${PLUGIN_BINARY}.partial`), join(target, PLUGIN_BINARY));
  if (target !== dir) {
    await rm(dir, { recursive: true, force: true });
    await rename(target, dir);
  }
  return { action: existed ? "updated" : "installed", launcher, dir };
}

/**
 * Register the launcher with the engine (`pulumi plugin install … --file`), in $PULUMI_HOME of `env`.
 * A plugin there that is not ours is left alone.
 */
export async function registerPlugin(
  launcher: string,
  pulumi: string,
  env: NodeJS.ProcessEnv,
): Promise<{ action: "installed" | "updated" | "unchanged" | "not ours"; path: string }> {
  const path = pluginPath(env);
  const present = existsSync(path);
  if (present && (await standInAt(path)) === undefined) return { action: "not ours", path };
  if (present && (await sameFile(path, launcher))) return { action: "unchanged", path };
  const args = ["plugin", "install", "resource", "command", PLUGIN_VERSION, "--file", launcher, ...(present ? ["--reinstall"] : [])];
  const result = await run(pulumi, args, { env, timeoutMs: 120_000 });
  if (result.code !== 0 || !(await sameFile(path, launcher))) {
    throw new Error(`\`pulumi ${args.join(" ")}\` did not install ${path}: ${(result.stderr.trim() || result.error) ?? "no output"}`);
  }
  return { action: present ? "updated" : "installed", path };
}
