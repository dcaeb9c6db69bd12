import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { type ToolSpec, toolCatalog } from "./catalog.ts";
import { engineEnv } from "./env.ts";
import { goBuildInfo, type GoBuildInfo, resolveLink, run, sha256File, which } from "./inspect.ts";
import { standInAt as commandStandInAt } from "./commandprovider/install.ts";
import { HOST_BINARY, standInAt } from "./langhost.ts";
import { COMMAND_PROVIDER_VERSION } from "./pins.ts";
import { repoRoot } from "./paths.ts";

export interface ToolReport {
  readonly name: string;
  readonly source: ToolSpec["source"];
  readonly needs: readonly string[];
  readonly path?: string;
  /** The first line the binary printed when asked its version. */
  readonly versionOutput?: string;
  readonly version?: string;
  readonly expected?: string;
  readonly sha256?: string;
  readonly build?: GoBuildInfo;
  /** Whose program it is, where a stand-in may take Pulumi's place: "Pulumi's 3.276.0", "amadegi's stand-in …". */
  readonly identity?: string;
  readonly ok: boolean;
  readonly problem?: string;
}

export interface DaemonReport {
  readonly pid: number;
  readonly name: string;
  readonly cmdline: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly tools: readonly ToolReport[];
  /** The Node a plain `pulumi preview` runs the program in: the stand-in's own, or `node` on PATH (Pulumi's host). */
  readonly previewNode: { readonly path?: string; readonly realpath?: string; readonly version?: string };
  readonly backend: { readonly url: string; readonly kind: "file" | "service"; readonly warnings: readonly string[] };
  readonly root: boolean;
  readonly netns: { readonly ok: boolean; readonly detail: string };
  readonly strayDaemons: readonly DaemonReport[];
  readonly missing: readonly string[];
  /** Missing, but nothing amadegi runs needs them (the catalog says why). */
  readonly notNeeded: readonly string[];
}

const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

function pulumiHome(env: NodeJS.ProcessEnv): string {
  return env.PULUMI_HOME ?? join(homedir(), ".pulumi");
}

/**
 * Where a tool is: on the engine's PATH (the engine takes a resource plugin found there first,
 * with a warning), else the command provider as `pulumi plugin install` put it, else a language
 * host beside the `pulumi` the PATH leads to.
 */
async function locate(spec: ToolSpec, path: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const found = await which(spec.binary, spec.sbin === true ? [path, ...SBIN].join(delimiter) : path);
  if (found !== undefined) return found;
  if (spec.name === "pulumi-resource-command") {
    return which(spec.binary, join(pulumiHome(env), "plugins", `resource-command-v${COMMAND_PROVIDER_VERSION}`));
  }
  if (spec.standIn !== true) return undefined;
  // The CLI also runs a language host that sits beside the `pulumi` it runs.
  const pulumi = await which("pulumi", path);
  return pulumi === undefined ? undefined : which(spec.binary, dirname(await resolveLink(pulumi)));
}

/** amadegi's stand-in, judged by its own version: the one its code declares, printed by `-version`. */
async function standInReport(
  spec: ToolSpec,
  path: string,
  env: Record<string, string>,
  base: Pick<ToolReport, "name" | "source" | "needs">,
): Promise<ToolReport | undefined> {
  // Each stand-in knows its own launcher: the language host's, the command provider's.
  const ours = spec.name === "pulumi-resource-command" ? await commandStandInAt(path) : await standInAt(path);
  if (ours === undefined) return undefined;
  const result = await run(path, spec.versionArgs, { env, timeoutMs: 20_000 });
  const versionOutput = `${result.stdout}\n${result.stderr}`.trim().split("\n")[0] ?? "";
  const identity = `amadegi's stand-in ${ours.version} (sha256 ${ours.sha256.slice(0, 12)})`;
  const report = { ...base, path, sha256: ours.sha256, versionOutput, version: ours.version, expected: ours.version, identity };
  return versionOutput === ours.version
    ? { ...report, ok: true }
    : { ...report, ok: false, problem: `the stand-in at ${path} prints "${versionOutput}", not ${ours.version}: run scripts/setup` };
}

export async function inspectTool(spec: ToolSpec, env: Record<string, string>): Promise<ToolReport> {
  const base = { name: spec.name, source: spec.source, needs: spec.needs, ...(spec.expected === undefined ? {} : { expected: spec.expected }) };
  const path = await locate(spec, env.PATH ?? "", env);
  if (path === undefined) {
    const why =
      spec.standIn === true
        ? "not installed: run scripts/setup (it installs amadegi's stand-in where Pulumi's own cannot be had)"
        : spec.source === "go-proxy-refused"
          ? "not installed: the Go module proxy refuses its module (see `scripts/setup`)"
          : "not found on PATH";
    return { ...base, ok: false, problem: why };
  }
  const standIn = spec.standIn === true ? await standInReport(spec, path, env, base) : undefined;
  if (standIn !== undefined) return standIn;
  const sha256 = await sha256File(path);
  const isGo = spec.source === "go-build" || spec.source === "go-proxy-refused";
  const build = isGo ? await goBuildInfo(path, env) : undefined;
  const withBuild = build === undefined ? {} : { build };
  if (spec.versionArgs.length === 0) return { ...base, path, sha256, ...withBuild, ok: true };
  const result = await run(path, spec.versionArgs, { env, timeoutMs: 20_000 });
  const printed = `${result.stdout}\n${result.stderr}`.trim();
  const versionOutput = printed.split("\n")[0] ?? "";
  const version = printed.match(spec.versionPattern)?.[1];
  if (version === undefined) {
    return {
      ...base,
      path,
      sha256,
      ...withBuild,
      versionOutput,
      ok: false,
      problem: `printed no version for \`${spec.binary} ${spec.versionArgs.join(" ")}\``,
    };
  }
  const ok = spec.expect === undefined || spec.expect(version);
  const problem = ok ? {} : { problem: `version ${version}, expected ${spec.expected ?? "another"}: run scripts/setup` };
  const identity = spec.standIn === true ? { identity: `Pulumi's ${version}` } : {};
  return { ...base, path, sha256, ...withBuild, versionOutput, version, ...identity, ok, ...problem };
}

/** Processes of the packages' system daemons that the project did not start (they hold the ports). */
export async function strayDaemons(): Promise<DaemonReport[]> {
  const names = new Set(["nginx", "unbound", "chronyd", "prometheus", "prometheus-blac", "sshd"]);
  const found: DaemonReport[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = (await readFile(`/proc/${entry}/comm`, "utf8")).trim();
      if (!names.has(comm)) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" ").trim();
      // The project starts every daemon with its own config outside /etc;
      // one running on the package's default configuration is a system daemon.
      const configs = cmdline.split(" ").filter((w) => w.startsWith("/") && /\.(conf|ya?ml)$|config/.test(w));
      if (configs.length > 0 && configs.every((c) => !c.startsWith("/etc/"))) continue;
      found.push({ pid: Number(entry), name: comm === "prometheus-blac" ? "prometheus-blackbox-exporter" : comm, cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

async function netnsCapability(): Promise<{ ok: boolean; detail: string }> {
  const unshare = await which("unshare", [process.env.PATH ?? "", ...SBIN].join(delimiter));
  if (unshare === undefined) return { ok: false, detail: "unshare not found (util-linux)" };
  const result = await run(unshare, ["--net", "true"], { timeoutMs: 10_000 });
  return result.code === 0
    ? { ok: true, detail: "can create network namespaces" }
    : { ok: false, detail: `cannot create a network namespace: ${(result.stderr.trim() === "" ? (result.error ?? "") : result.stderr).trim()}` };
}

/** The backend, and a warning for each production stack that would keep its state in a local file. */
export async function backendReport(url: string, stacksDir = join(repoRoot, "stacks")): Promise<DoctorReport["backend"]> {
  const kind = url.startsWith("file://") ? "file" : "service";
  const warnings: string[] = [];
  if (kind === "file") {
    let stacks: string[] = [];
    try {
      stacks = (await readdir(stacksDir)).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
    } catch {
      // no stacks directory yet
    }
    for (const file of stacks) {
      const text = await readFile(join(stacksDir, file), "utf8");
      if (/^\s*amadegi:environment:\s*["']?production/m.test(text)) {
        warnings.push(`stack ${file.slice(7, -5)} is production but the backend is a local file (${url}): use a shared, locked backend for production`);
      }
    }
  }
  return { url, kind, warnings };
}

/** The Node a plain `pulumi preview` runs the program in: the stand-in names its own; Pulumi's host takes `node` from PATH. */
async function previewNodeOf(tools: readonly ToolReport[], path: string | undefined): Promise<DoctorReport["previewNode"]> {
  const host = tools.find((t) => t.name === HOST_BINARY)?.path;
  const node = (host === undefined ? undefined : (await standInAt(host))?.node) ?? (await which("node", path));
  if (node === undefined) return {};
  const version = /v(\d+\.\d+\.\d+)/.exec((await run(node, ["--version"], { timeoutMs: 10_000 })).stdout)?.[1];
  return { path: node, realpath: await resolveLink(node), ...(version === undefined ? {} : { version }) };
}

export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const engine = { ...(env as Record<string, string>), ...engineEnv(env) };
  const tools = await Promise.all(toolCatalog.map((spec) => inspectTool(spec, engine)));
  const previewNode = await previewNodeOf(tools, engine.PATH);
  const [netns, stray, backend] = await Promise.all([netnsCapability(), strayDaemons(), backendReport(engine.PULUMI_BACKEND_URL ?? "")]);
  const optional = new Set(toolCatalog.filter((t) => t.optional !== undefined).map((t) => t.name));
  const missing = tools.filter((t) => !t.ok && !optional.has(t.name)).map((t) => t.name);
  const notNeeded = tools.filter((t) => !t.ok && optional.has(t.name)).map((t) => t.name);
  return {
    ok: missing.length === 0,
    notNeeded,
    tools,
    previewNode,
    backend,
    root: process.getuid?.() === 0,
    netns,
    strayDaemons: stray,
    missing,
  };
}
