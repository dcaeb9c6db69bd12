import { mkdir } from "node:fs/promises";
import * as sdkSettings from "@pulumi/pulumi/runtime/settings.js";
import { fileURLToPath } from "node:url";
import { delimiter, join } from "node:path";
import { goTools } from "./pins.ts";
import { repoRoot, statePaths, toolDir } from "./paths.ts";

/**
 * The environment every Pulumi engine run gets, from the CLI, the Automation
 * API and the tests alike: a file backend under the project's state dir,
 * passphrase secrets, and nothing that would reach for the internet.
 */
export function engineEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { ...engineSettings(env), PATH: [...enginePath(env), env.PATH ?? ""].join(delimiter) };
}

/**
 * Give each gRPC client the Node SDK opens to an engine (resource monitor, engine) its own
 * subchannel pool, before a process runs an inline program. By default grpc-js shares connections
 * process-wide by address, and the SDK never closes an inline run's clients; when a later engine
 * listens on a port an earlier one used (this machine's kernel hands ports out again within
 * seconds), the new run inherited the old connection in its failed state and its first call failed
 * with `14 UNAVAILABLE: No connection established. Last error: null`. The SDK's client options are
 * an internal export: if it is gone, say so rather than run exposed.
 */
export function isolateEngineConnections(): void {
  const options = (sdkSettings as unknown as { grpcClientOptions?: Record<string, unknown> }).grpcClientOptions;
  if (options === undefined || typeof options !== "object")
    throw new Error("@pulumi/pulumi/runtime/settings.js no longer exports grpcClientOptions: see isolateEngineConnections in src/toolchain/env.ts");
  options["grpc.use_local_subchannel_pool"] = 1;
}

/** Directories put before PATH: the cached Go-built tools, then the SDK's own plugins. */
export function enginePath(env: NodeJS.ProcessEnv = process.env): string[] {
  const toolBins = goTools.map((t) => join(toolDir(t.binary, t.version, env), "bin"));
  // Dynamic providers run pulumi-resource-pulumi-nodejs, shipped inside the SDK.
  return [...toolBins, join(repoRoot, "node_modules", "@pulumi", "pulumi")];
}

function engineSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const state = statePaths(env);
  return {
    PULUMI_BACKEND_URL: env.PULUMI_BACKEND_URL ?? `file://${state.pulumi}`,
    PULUMI_CONFIG_PASSPHRASE_FILE: env.PULUMI_CONFIG_PASSPHRASE_FILE ?? state.passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
  };
}

/**
 * `export NAME='value'` lines, for people who run plain `pulumi` themselves;
 * written to the state directory's env.sh. Its comment names no path: a path
 * with a line break would end the comment and run the rest.
 */
export function renderEnvScript(env: NodeJS.ProcessEnv = process.env): string {
  const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
  const lines = Object.entries(engineSettings(env)).map(([k, v]) => `export ${k}=${quote(v)}`);
  lines.push(`export PATH=${quote(enginePath(env).join(delimiter))}:"$PATH"`);
  return (
    `# Written by scripts/setup: the environment amadegi runs Pulumi in.\n` +
    `# Source it before a plain \`pulumi\` command: . <state directory>/env.sh\n` +
    `${lines.join("\n")}\n`
  );
}

/** A file backend's directory must exist before the CLI opens it. */
export async function ensureBackend(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const url = engineEnv(env).PULUMI_BACKEND_URL ?? "";
  if (url.startsWith("file://")) await mkdir(fileURLToPath(url), { recursive: true, mode: 0o700 });
}
