// amadegi setup, stage 2 (stage 1 is scripts/setup, which calls this):
// Debian packages without their daemons, the Pulumi engine built from the Go
// module proxy and cached by version, and the offline Pulumi environment.
// Idempotent; one progress line per step; exit 2 naming the step that failed.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, lstat, mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, sep } from "node:path";
import { $ } from "zx";
import { writeFileAtomic } from "../src/lib/fs.ts";
import { strayDaemons } from "../src/toolchain/doctor.ts";
import { resolveLink, which } from "../src/toolchain/inspect.ts";
import { PLUGIN_BINARY, PLUGIN_VERSION, STANDIN_VERSION as COMMAND_STANDIN_VERSION } from "../src/toolchain/commandprovider/index.ts";
import { installCode, pluginPath, registerPlugin, standInAt as commandStandInAt } from "../src/toolchain/commandprovider/install.ts";
import { engineEnv, renderEnvScript } from "../src/toolchain/env.ts";
import { HOST_BINARY, STANDIN_VERSION, installLanguageHost, removeLanguageHost, standInAt } from "../src/toolchain/langhost.ts";
import { type GoTool, debianPackages, goTools, refusedGoModules } from "../src/toolchain/pins.ts";
import { repoRoot, stateDir, toolDir } from "../src/toolchain/paths.ts";
import { readRefusals, recordAnswer, refusalOf, refusalsFile, writeRefusals } from "../src/toolchain/refusals.ts";

$.verbose = false;
$.quiet = true;
$.cwd = repoRoot;

class StepFailed extends Error {
  readonly step: string;
  readonly todo: string;
  constructor(step: string, todo: string) {
    super(`${step}: ${todo}`);
    this.step = step;
    this.todo = todo;
  }
}

const say = (text: string) => console.log(`setup: ${text}`);
const isRoot = process.getuid?.() === 0;
const unavailable: string[] = [];
/** What runs in place of each refused program: Pulumi's own found installed, or amadegi's stand-in. */
const inPlace = new Map<string, "Pulumi's own" | "amadegi's stand-in">();

// dpkg-query's format is "${Package} ${Status}"; built so it is not read as template placeholders.
const DPKG_FORMAT = ["$", "{Package} $", "{Status}\\n"].join("");

/** One dpkg-query for all of them (it exits non-zero when some are unknown, and still lists the rest). */
async function missingDebianPackages(): Promise<string[]> {
  const r = await $({ nothrow: true })`dpkg-query -W -f=${DPKG_FORMAT} ${debianPackages}`;
  const installed = new Set(
    r.stdout
      .split("\n")
      .filter((line) => line.endsWith(" install ok installed"))
      .map((line) => line.split(" ")[0]),
  );
  return debianPackages.filter((pkg) => !installed.has(pkg));
}

/**
 * Install the Debian packages the project runs, with a policy-rc.d that
 * denies every service start: the packages' system daemons would otherwise
 * start and hold the ports the project's own instances need.
 */
async function debian(): Promise<void> {
  const missing = await missingDebianPackages();
  if (missing.length === 0) {
    say(`debian packages (${debianPackages.length}): all installed: ok`);
  } else {
    if (!isRoot) throw new StepFailed("debian packages", `missing ${missing.join(" ")}; run setup as root, or install them yourself`);
    say(`debian packages: installing ${missing.join(" ")} (service starts denied)`);
    const policy = "/usr/sbin/policy-rc.d";
    const backup = `${policy}.amadegi-saved`;
    const hadPolicy = existsSync(policy);
    if (hadPolicy) await rename(policy, backup);
    try {
      await writeFile(policy, "#!/bin/sh\n# amadegi setup: no service starts during package installs\nexit 101\n", { mode: 0o755 });
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      const update = await $({ nothrow: true, env })`apt-get update`;
      if (update.exitCode !== 0) throw new StepFailed("debian packages", `apt-get update failed: ${lastLine(update.stderr)}`);
      const install = await $({ nothrow: true, env })`apt-get install -y --no-install-recommends ${missing}`;
      if (install.exitCode !== 0) throw new StepFailed("debian packages", `apt-get install failed: ${lastLine(install.stderr)}`);
    } finally {
      await rm(policy, { force: true });
      if (hadPolicy) await rename(backup, policy);
    }
    const still = await missingDebianPackages();
    if (still.length > 0) throw new StepFailed("debian packages", `still missing after install: ${still.join(" ")}`);
    say("debian packages: installed: ok");
  }
  const stray = await strayDaemons();
  if (stray.length > 0) {
    say(
      `warning: system daemons are running: ${stray.map((d) => `${d.name} (pid ${d.pid})`).join(", ")}; ` +
        `stop them, they hold the ports the project's own daemons use`,
    );
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

async function printedVersion(binary: string, args: readonly string[]): Promise<string | undefined> {
  const r = await $({ nothrow: true, timeout: "20s" })`${binary} ${args}`;
  return r.exitCode === 0 ? r.stdout.trim().split("\n")[0] : undefined;
}

/**
 * Build one Go program from its wrapper module into the version-keyed cache.
 * The wrapper's go.sum pins every module, so the build never resolves anew.
 */
async function buildGoTool(tool: GoTool, wrapperDir: string): Promise<string> {
  const dir = toolDir(tool.binary, tool.version);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, "bin"), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), `amadegi-go-${tool.binary}-`));
  try {
    await cp(wrapperDir, work, { recursive: true });
    const started = Date.now();
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" };
    const out = join(partial, "bin", tool.binary);
    const build = await $({
      nothrow: true,
      env,
      cwd: work,
    })`go build -mod=readonly -trimpath -tags=${tool.tags} -ldflags ${tool.ldflags} -o ${out} ${tool.main}`;
    if (build.exitCode !== 0) {
      throw new StepFailed(`build ${tool.binary} ${tool.version}`, `go build failed: ${lastLine(build.stderr)}`);
    }
    say(`${tool.binary} ${tool.version}: built in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return join(dir, "bin", tool.binary);
}

async function goTool(tool: GoTool): Promise<void> {
  const cached = join(toolDir(tool.binary, tool.version), "bin", tool.binary);
  const onPath = await which(tool.binary);
  // Setup's own link to the cache is not "another pulumi on PATH".
  const elsewhere = onPath !== undefined && (await resolveLink(onPath)) !== cached;
  if (onPath !== undefined && elsewhere && (await printedVersion(onPath, tool.versionArgs)) === tool.version) {
    say(`${tool.binary} ${tool.version}: using ${onPath} (already on PATH)`);
    return;
  }
  if (existsSync(cached) && (await printedVersion(cached, tool.versionArgs)) === tool.version) {
    say(`${tool.binary} ${tool.version}: cached at ${cached}, skipping the Go build`);
  } else {
    if ((await which("go")) === undefined) throw new StepFailed(`build ${tool.binary}`, "no `go` on PATH: install Go, then run setup again");
    say(`${tool.binary} ${tool.version}: building from the Go module proxy (the first build takes minutes)`);
    const built = await buildGoTool(tool, join(repoRoot, tool.wrapper));
    const version = await printedVersion(built, tool.versionArgs);
    if (version !== tool.version) {
      await rm(toolDir(tool.binary, tool.version), { recursive: true, force: true });
      throw new StepFailed(`build ${tool.binary}`, `the built binary prints ${version ?? "nothing"}, not ${tool.version}`);
    }
  }
  await linkIntoPath(tool.binary, cached);
}

/** As root, make the cached binary the machine's (only replacing a link we made). */
async function linkIntoPath(binary: string, target: string): Promise<void> {
  if (!isRoot) return;
  const link = join("/usr/local/bin", binary);
  try {
    const stat = await lstat(link);
    if (!stat.isSymbolicLink()) {
      say(`warning: ${link} exists and is not setup's link; left alone`);
      return;
    }
    if ((await readlink(link)) === target) return;
    await rm(link);
  } catch {
    // no link yet
  }
  await symlink(target, link);
  say(`${binary}: linked ${link} → ${target}`);
}

/**
 * The Node language host for a plain `pulumi preview`/`up`: Pulumi's own wherever it is installed
 * (on PATH or beside `pulumi`), else amadegi's stand-in beside the cached `pulumi`. A copy, with a
 * launcher naming this Node: nothing points into the checkout, which may be deleted.
 */
async function languageHost(): Promise<void> {
  const pulumi = goTools.find((t) => t.binary === "pulumi");
  if (pulumi === undefined) return;
  const binDir = join(toolDir(pulumi.binary, pulumi.version), "bin");
  const pulumiOnPath = await which("pulumi");
  const beside = pulumiOnPath === undefined ? [] : [dirname(await resolveLink(pulumiOnPath))];
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...beside, binDir]) {
    const found = dir === "" ? undefined : await which(HOST_BINARY, dir);
    if (found === undefined || (await standInAt(found)) !== undefined) continue;
    say(`${HOST_BINARY}: Pulumi's own at ${found}: ok`);
    inPlace.set(HOST_BINARY, "Pulumi's own");
    if (await removeLanguageHost(binDir)) say(`${HOST_BINARY}: removed amadegi's stand-in from ${binDir}, so the CLI runs Pulumi's`);
    return;
  }
  if (process.execPath.startsWith(`${repoRoot}${sep}`)) {
    throw new StepFailed(HOST_BINARY, `this Node (${process.execPath}) is inside the checkout; run setup with a Node outside it`);
  }
  const done = await installLanguageHost(binDir, process.execPath, join(repoRoot, "src", "toolchain", "langhost.ts"));
  const where = join(binDir, HOST_BINARY);
  if (done.action !== "not ours") inPlace.set(HOST_BINARY, "amadegi's stand-in");
  if (done.action === "unchanged") say(`${HOST_BINARY}: amadegi's stand-in ${STANDIN_VERSION} at ${where}: ok`);
  else if (done.action === "not ours") say(`${HOST_BINARY}: ${done.path} is not amadegi's; left alone`);
  else say(`${HOST_BINARY}: ${done.action} amadegi's stand-in ${STANDIN_VERSION} at ${where} (Pulumi's own cannot be had here), run by ${process.execPath}`);
}

/**
 * The provider behind @pulumi/command: Pulumi's own wherever it is installed (in $PULUMI_HOME's
 * plugins, or on PATH, where the engine takes it first), else amadegi's stand-in: its code and a
 * pinned node_modules in the tool cache, a launcher naming this Node, registered with
 * `pulumi plugin install … --file`. Nothing points into the checkout, which may be deleted.
 */
async function commandProvider(): Promise<void> {
  const engine = { ...process.env, ...engineEnv() };
  const installed = pluginPath(engine);
  const ambient = await which(PLUGIN_BINARY, engine.PATH);
  for (const found of [installed, ambient]) {
    if (found === undefined || !existsSync(found) || (await commandStandInAt(found)) !== undefined) continue;
    say(`${PLUGIN_BINARY}: Pulumi's own at ${found}: ok (amadegi's stand-in not installed)`);
    inPlace.set(PLUGIN_BINARY, "Pulumi's own");
    return;
  }
  if (process.execPath.startsWith(`${repoRoot}${sep}`)) {
    throw new StepFailed(PLUGIN_BINARY, `this Node (${process.execPath}) is inside the checkout; run setup with a Node outside it`);
  }
  const pulumi = await which("pulumi", engine.PATH);
  if (pulumi === undefined) throw new StepFailed(PLUGIN_BINARY, "no `pulumi` to register the plugin with: the pulumi step should have built it");
  let code: Awaited<ReturnType<typeof installCode>>;
  let plugin: Awaited<ReturnType<typeof registerPlugin>>;
  try {
    code = await installCode({ node: process.execPath });
    plugin = await registerPlugin(code.launcher, pulumi, engine);
  } catch (error) {
    throw new StepFailed(PLUGIN_BINARY, (error as Error).message);
  }
  const what = `amadegi's stand-in ${COMMAND_STANDIN_VERSION} (code and node_modules in ${code.dir})`;
  if (plugin.action !== "not ours") inPlace.set(PLUGIN_BINARY, "amadegi's stand-in");
  if (plugin.action === "not ours") say(`${PLUGIN_BINARY}: ${plugin.path} is not amadegi's; left alone`);
  else if (plugin.action === "unchanged" && code.action === "unchanged") say(`${PLUGIN_BINARY} ${PLUGIN_VERSION}: ${what}: ok`);
  else say(`${PLUGIN_BINARY} ${PLUGIN_VERSION}: ${plugin.action} ${what} as ${plugin.path} (Pulumi's own cannot be had here)`);
  if (ambient !== undefined && (await commandStandInAt(ambient)) !== undefined && ambient !== installed) {
    say(`warning: ${ambient} on PATH runs before the installed plugin`);
  }
}

/**
 * The modules the proxy has refused so far. A refusal on record (`refusals.json` beside the tool
 * cache, with its day) is not asked again on every run; `--ask-again` asks each once more, and
 * the day one is served, this says so and doctor's report changes.
 */
async function refusedModules(askAgain: boolean): Promise<void> {
  const file = refusalsFile();
  let record = readRefusals(file);
  for (const m of refusedGoModules) {
    const known = refusalOf(record, m.module, m.version);
    if (known !== undefined && !askAgain) {
      const why = `${known.reason.slice(-80)}); not asked again (scripts/setup --ask-again)`;
      say(`${m.binary}: unavailable here — the Go module proxy refused ${m.module}@${m.version} on ${known.refusedOn} (${why}`);
      unavailable.push(m.binary);
      continue;
    }
    const r = await $({ nothrow: true, timeout: "60s", cwd: tmpdir() })`go mod download -json ${`${m.module}@${m.version}`}`;
    const answer = r.stdout.match(/"Error":\s*"([^"]*)/)?.[1];
    if (r.exitCode === 0 && answer === undefined) {
      record = recordAnswer(record, m.module, m.version, undefined);
      say(`${m.binary}: the Go module proxy now serves ${m.module}@${m.version}; add its wrapper module under scripts/go/ to build it`);
    } else {
      const reason = (answer ?? lastLine(r.stderr)).replace(/\\n.*$/, "").replace(/\\t/g, " ");
      record = recordAnswer(record, m.module, m.version, { on: new Date(), reason });
      say(`${m.binary}: unavailable here — the Go module proxy refuses ${m.module}@${m.version} (${reason.slice(-80)})`);
      unavailable.push(m.binary);
    }
  }
  await writeRefusals(file, record);
}

/** The file backend, the passphrase for its secrets, and env.sh for plain `pulumi`. */
async function pulumiEnvironment(): Promise<void> {
  const state = stateDir();
  await mkdir(join(state, "pulumi"), { recursive: true, mode: 0o700 });
  const passphrase = join(state, "passphrase");
  if (!existsSync(passphrase)) {
    await writeFileAtomic(passphrase, `${randomBytes(32).toString("base64url")}\n`, 0o600);
    say(`pulumi secrets: new passphrase in ${passphrase} (mode 600, git-ignored)`);
  }
  await writeFileAtomic(join(state, "env.sh"), renderEnvScript());
  say(`pulumi environment: file backend ${join(state, "pulumi")}, offline; for plain pulumi: . .amadegi/env.sh`);
}

async function main(): Promise<number> {
  try {
    await debian();
    for (const tool of goTools) await goTool(tool);
    await languageHost();
    await commandProvider();
    await refusedModules(process.argv.includes("--ask-again"));
    await pulumiEnvironment();
  } catch (error) {
    if (error instanceof StepFailed) {
      console.error(`setup: FAILED at ${error.step} — ${error.todo}`);
      return 2;
    }
    throw error;
  }
  const missing = unavailable.filter((b) => !inPlace.has(b));
  const covered = unavailable.filter((b) => inPlace.has(b)).map((b) => `${b} (${inPlace.get(b) ?? "?"} runs)`);
  const refusedNote = covered.length === 0 ? "" : `; the Go module proxy refuses Pulumi's ${covered.join(", ")}`;
  if (missing.length > 0) {
    say(`done, except what this machine's registries refuse: ${missing.join(", ")} (\`npx amadegi doctor\` says what needs them)${refusedNote}`);
  } else {
    say(`done${refusedNote}${covered.length === 0 ? "" : " (`npx amadegi doctor` names them)"}`);
  }
  return 0;
}

process.exitCode = await main();
