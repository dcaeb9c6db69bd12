// amadegi-stand-in:pulumi-language-nodejs
/**
 * amadegi's stand-in for Pulumi's Node.js language host, `pulumi-language-nodejs`, which the Go
 * module proxy here refuses (ADR 0003). The Pulumi CLI starts it for a plain `pulumi preview`, `up`
 * or `destroy` of a `runtime: nodejs` project, with the engine's address as the last argument; it
 * serves pulumirpc.LanguageRuntime on 127.0.0.1, prints the port as its first line, and runs the
 * program with the SDK's own runner (`@pulumi/pulumi/cmd/run`), passing what Pulumi's host passes
 * (sdk/nodejs/cmd/pulumi-language-nodejs/main.go). What it does not do it refuses, naming Pulumi's
 * host as the way to get it. Where Pulumi's host is installed, setup and doctor prefer it.
 *
 * Self-contained: setup copies this file out of the checkout, beside `pulumi`, so it imports only
 * node: built-ins (the type imports are erased). gRPC and the protocol's stubs are loaded at run
 * time from the project the CLI starts it in: always the SDK's own, one copy of @grpc/grpc-js.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fstatSync } from "node:fs";
import { chmod, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Grpc from "@grpc/grpc-js";
import type * as LangGrpc from "@pulumi/pulumi/proto/language_grpc_pb.js";
import type * as Lang from "@pulumi/pulumi/proto/language_pb.js";
import type * as PluginPb from "@pulumi/pulumi/proto/plugin_pb.js";
import type * as EmptyPb from "google-protobuf/google/protobuf/empty_pb.js";

/** Written against Pulumi 3.276's protocol; the suffix says it is not Pulumi's build. */
export const STANDIN_VERSION = "3.276.0-amadegi.1";
/** The first line of this file and a line of its launcher: how setup and doctor know it is ours. */
export const STANDIN_MARKER = "amadegi-stand-in:pulumi-language-nodejs";
export const HOST_BINARY = "pulumi-language-nodejs";
/** The runner's exit code for "the program already showed the user an actionable error". */
const BAIL_EXIT_CODE = 32;
/** Pulumi's host asks the engine's health this often and exits when it stops answering. */
const HEALTH_INTERVAL_MS = 5 * 60_000;
/** Pulumi's own limit for plugin messages (rpcutil.MaxRPCMessageSize). */
const MAX_MESSAGE_BYTES = 400 * 1024 * 1024;

const REFUSED: Readonly<Record<string, string>> = {
  installDependencies: "installing dependencies (`pulumi install`; run `npm ci` in the project instead)",
  runPlugin: "plugins and policy packs written in Node.js (`--policy-pack`)",
  runtimeOptionsPrompts: "`pulumi new`",
  template: "`pulumi new`",
  generateProgram: "generating programs (`pulumi convert`, `pulumi import --out`)",
  generateProject: "generating projects (`pulumi convert`)",
  generatePackage: "generating SDKs (`pulumi package gen-sdk`, `pulumi package add`)",
  pack: "packing SDKs",
  link: "linking packages (`pulumi package add`)",
};

export function refusal(what: string): string {
  return `not supported by amadegi's stand-in language host: ${what}; install Pulumi's pulumi-language-nodejs for it`;
}

interface Sdk {
  readonly grpc: typeof Grpc;
  readonly service: typeof LangGrpc.LanguageRuntimeService;
  readonly lang: typeof Lang;
  readonly plugin: typeof PluginPb;
  readonly Empty: typeof EmptyPb.Empty;
}

/** gRPC and the SDK's stubs as the project in `dir` resolves them. */
function loadSdk(dir: string): Sdk {
  const sdk = createRequire(createRequire(join(dir, "package.json")).resolve("@pulumi/pulumi/package.json"));
  const service = (sdk("./proto/language_grpc_pb.js") as typeof LangGrpc).LanguageRuntimeService;
  const Empty = (sdk("google-protobuf/google/protobuf/empty_pb.js") as typeof EmptyPb).Empty;
  return { grpc: sdk("@grpc/grpc-js"), service, lang: sdk("./proto/language_pb.js"), plugin: sdk("./proto/plugin_pb.js"), Empty };
}

interface PackageJson {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly pulumi?: { readonly resource?: boolean; readonly name?: string; readonly version?: string; readonly server?: string };
}

async function readJson(path: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as PackageJson;
  } catch {
    return undefined;
  }
}

/** The first of `relative` found in `dir` or a directory above it, as Node looks for packages. */
async function upward(dir: string, relative: string): Promise<{ dir: string; json: PackageJson } | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    const json = await readJson(join(d, relative));
    if (json !== undefined) return { dir: d, json };
    if (dirname(d) === d) return undefined;
  }
}

/** The project's direct dependencies with the versions installed. */
async function dependencies(programDir: string): Promise<{ name: string; json: PackageJson }[]> {
  const project = await upward(programDir, "package.json");
  if (project === undefined) return [];
  const found: { name: string; json: PackageJson }[] = [];
  for (const name of Object.keys({ ...project.json.dependencies, ...project.json.devDependencies }).sort()) {
    const pkg = await upward(project.dir, join("node_modules", name, "package.json"));
    if (pkg !== undefined) found.push({ name, json: pkg.json });
  }
  return found;
}

/**
 * The resource plugins the program's direct dependencies declare in package.json's "pulumi"
 * field, named and versioned as Pulumi's host does (its host also walks transitive ones).
 */
async function requiredPlugins(programDir: string): Promise<{ name: string; version: string; server: string }[]> {
  const plugins: { name: string; version: string; server: string }[] = [];
  for (const { name, json } of await dependencies(programDir)) {
    if (json.pulumi?.resource !== true) continue;
    const plugin = json.pulumi.name ?? (name.startsWith("@pulumi/") ? name.slice("@pulumi/".length) : undefined);
    const version = json.pulumi.version ?? json.version;
    if (plugin === undefined || version === undefined) continue;
    plugins.push({ name: plugin, version: version.startsWith("v") ? version : `v${version}`, server: json.pulumi.server ?? "" });
  }
  return plugins;
}

/** PULUMI_CONFIG as Pulumi's host writes it: keys in the old `ns:config:name` form the SDK also reads. */
function configJson(req: Lang.RunRequest): string {
  const config: Record<string, string> = {};
  req.getConfigMap().forEach((value, key) => {
    const parts = key.split(":");
    config[parts.length === 2 ? `${parts[0]}:config:${parts[1]}` : key] = value;
  });
  return JSON.stringify(config);
}

interface HostOptions {
  engine: string;
  tracing: string;
}

/** Pulumi's flags to the runner: flags first (it stops at the program), then the program and its args. */
function runnerArgs(req: Lang.RunRequest, runner: string, host: HostOptions): string[] {
  const info = req.getInfo();
  const flag = (name: string, value: string) => (value === "" ? [] : [`--${name}`, value]);
  return [
    runner,
    ...flag("monitor", req.getMonitorAddress()),
    ...flag("engine", host.engine),
    ...flag("organization", req.getOrganization()),
    ...flag("project", req.getProject()),
    ...flag("root-directory", info?.getRootDirectory() ?? ""),
    ...flag("stack", req.getStack()),
    ...flag("pwd", info?.getProgramDirectory() ?? req.getPwd()),
    ...(req.getDryrun() ? ["--dry-run"] : []),
    ...flag("parallel", String(req.getParallel())),
    ...flag("tracing", host.tracing),
    info?.getEntryPoint() ?? req.getProgram(),
    ...req.getArgsList(),
  ];
}

/** Run the program in this host's Node (Node 24 strips TypeScript itself); resolve with RunResponse's error and bail. */
function runProgram(sdk: Sdk, req: Lang.RunRequest, host: HostOptions, running: Set<ChildProcess>): Promise<{ error: string; bail: boolean }> {
  const programDir = req.getInfo()?.getProgramDirectory() ?? req.getPwd();
  let runner: string;
  try {
    runner = createRequire(join(programDir, "package.json")).resolve("@pulumi/pulumi/cmd/run");
  } catch {
    return Promise.resolve({ error: `the Pulumi SDK (@pulumi/pulumi/cmd/run) cannot be found from ${programDir}: run \`npm ci\` there`, bail: false });
  }
  const options = (req.getInfo()?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>;
  const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_CONFIG: configJson(req), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()) };
  if (options.typescript !== false) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (typeof options.tsconfig === "string") env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  const nodeArgs = typeof options.nodeargs === "string" ? options.nodeargs.split(/\s+/).filter((a) => a !== "") : [];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, ...runnerArgs(req, runner, host)], { env, stdio: ["ignore", "inherit", "inherit"] });
    running.add(child);
    child.on("error", (error) => resolve({ error: `Problem executing program (could not run language executor): ${error.message}`, bail: false }));
    child.on("exit", (code, signal) => {
      running.delete(child);
      if (code === BAIL_EXIT_CODE) resolve({ error: "", bail: true });
      else if (code === 0) resolve({ error: "", bail: false });
      else
        resolve({ error: code === null ? `Program was stopped by ${signal ?? "a signal"}` : `Program exited with non-zero exit code: ${code}`, bail: false });
    });
  });
}

/** Serve the protocol until a signal, the end of stdin or an engine that stops answering; resolve with the port. */
async function startHost(sdk: Sdk, host: HostOptions): Promise<number> {
  const { grpc, lang, plugin } = sdk;
  const running = new Set<ChildProcess>();
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });
  const stdinPipe = stdinIsPipe();
  let unwatch = () => {};
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const child of running) child.kill("SIGINT");
    unwatch();
    if (stdinPipe) process.stdin.destroy();
    server.forceShutdown();
  };
  const watchEngine = (address: string) => {
    unwatch();
    if (address === "") return;
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const same = (b: Buffer) => b;
    const timer = setInterval(() => {
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", same, same, Buffer.alloc(0), (error) => {
        // As Pulumi's host: an engine without the health service is alive.
        if (error === null || error.code === grpc.status.UNIMPLEMENTED) return;
        console.error(`${HOST_BINARY} (amadegi's stand-in): the engine at ${address} stopped answering (${error.details}); exiting`);
        stop();
      });
    }, HEALTH_INTERVAL_MS).unref();
    unwatch = () => {
      clearInterval(timer);
      client.close();
    };
  };
  const plugins = (info: Lang.ProgramInfo | undefined, pwd: string) => requiredPlugins(info?.getProgramDirectory() ?? pwd);
  const served: Partial<LangGrpc.ILanguageRuntimeServer> = {
    handshake: (call, done) => {
      host.engine = call.request.getEngineAddress();
      watchEngine(host.engine);
      done(null, new lang.LanguageHandshakeResponse());
    },
    getPluginInfo: (_call, done) => done(null, new plugin.PluginInfo().setVersion(STANDIN_VERSION)),
    getRequiredPackages: (call, done) => {
      plugins(call.request.getInfo(), ".").then((found) => {
        const list = found.map((p) => new plugin.PackageDependency().setName(p.name).setKind("resource").setVersion(p.version).setServer(p.server));
        done(null, new lang.GetRequiredPackagesResponse().setPackagesList(list));
      }, done);
    },
    getRequiredPlugins: (call, done) => {
      plugins(call.request.getInfo(), call.request.getPwd()).then((found) => {
        const list = found.map((p) => new plugin.PluginDependency().setName(p.name).setKind("resource").setVersion(p.version).setServer(p.server));
        done(null, new lang.GetRequiredPluginsResponse().setPluginsList(list));
      }, done);
    },
    run: (call, done) => {
      call.on("cancelled", () => running.forEach((child) => child.kill("SIGINT")));
      void runProgram(sdk, call.request, host, running).then((r) => done(null, new lang.RunResponse().setError(r.error).setBail(r.bail)));
    },
    about: (call, done) => {
      const about = new lang.AboutResponse().setExecutable(process.execPath).setVersion(process.version);
      const options = (call.request.getInfo()?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>;
      about.getMetadataMap().set("packagemanager", typeof options.packagemanager === "string" ? options.packagemanager : "npm");
      about.getMetadataMap().set("host", `amadegi's stand-in ${STANDIN_VERSION}`);
      done(null, about);
    },
    getProgramDependencies: (call, done) => {
      dependencies(call.request.getInfo()?.getProgramDirectory() ?? call.request.getPwd()).then((found) => {
        const list = found.map((d) => new lang.DependencyInfo().setName(d.name).setVersion(d.json.version ?? ""));
        done(null, new lang.GetProgramDependenciesResponse().setDependenciesList(list));
      }, done);
    },
    cancel: (_call, done) => {
      running.forEach((child) => child.kill("SIGINT"));
      done(null, new sdk.Empty());
    },
  };
  const handlers: Grpc.UntypedServiceImplementation = { ...(served as Grpc.UntypedServiceImplementation) };
  for (const [name, method] of Object.entries(sdk.service)) {
    if (handlers[name] !== undefined) continue;
    const details = refusal(REFUSED[name] ?? `the ${method.path.split("/").at(-1) ?? name} call`);
    const status = { code: grpc.status.UNIMPLEMENTED, details };
    handlers[name] = method.responseStream
      ? (call: Grpc.ServerWritableStream<unknown, unknown>) => call.emit("error", status)
      : (_call: unknown, done: Grpc.sendUnaryData<unknown>) => done(status);
  }
  server.addService(sdk.service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The CLI holds a pipe to our stdin for as long as it lives: its end means the engine is gone.
  if (stdinPipe) process.stdin.on("end", stop).resume();
  watchEngine(host.engine);
  return port;
}

function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/** The CLI's arguments: glog's `--logtostderr`/`-v=N`, `-tracing`, `-runtime`, `-version`; the engine's address last. */
export function parseArgs(argv: readonly string[]): { version: boolean; engine: string; tracing: string; runtime: string } {
  const out = { version: false, engine: "", tracing: "", runtime: "nodejs" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const named = /^--?(tracing|runtime)(?:=(.*))?$/.exec(arg);
    if (named !== null) out[named[1] === "tracing" ? "tracing" : "runtime"] = named[2] ?? argv[++i] ?? "";
    else if (/^--?version$/.test(arg)) out.version = true;
    else if (!arg.startsWith("-")) out.engine = arg;
  }
  return out;
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.version) {
    console.log(STANDIN_VERSION);
    return 0;
  }
  const who = `${HOST_BINARY} (amadegi's stand-in ${STANDIN_VERSION})`;
  if (args.runtime !== "nodejs") {
    console.error(`${who}: ${refusal(`the ${args.runtime} runtime`)}`);
    return 1;
  }
  let sdk: Sdk;
  try {
    sdk = loadSdk(process.cwd());
  } catch (error) {
    console.error(`${who}: cannot load @pulumi/pulumi from ${process.cwd()} (${(error as Error).message.split("\n")[0]}): run \`npm ci\` in the project`);
    return 1;
  }
  process.stdout.write(`${await startHost(sdk, { engine: args.engine, tracing: args.tracing })}\n`);
  return 0;
}

/** The launcher setup installs: a fixed Node and the copied host, nothing in a checkout or on PATH. */
export function launcherScript(node: string, host: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return (
    `#!/bin/sh\n# ${STANDIN_MARKER} ${STANDIN_VERSION}\n` +
    `# amadegi's stand-in for Pulumi's Node.js language host, installed by scripts/setup.\n` +
    `exec ${quote(node)} ${quote(host)} "$@"\n`
  );
}

/** Our stand-in at `launcher`, by its marker: its version, the sha256 of the code it runs, and the Node that runs it. */
export async function standInAt(launcher: string): Promise<{ version: string; sha256: string; host: string; node: string } | undefined> {
  // The first bytes only: where Pulumi's host is installed, this is a large Go binary.
  const head = async () => {
    const file = await open(launcher);
    try {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(512), 0, 512, 0);
      return buffer.subarray(0, bytesRead).toString("latin1");
    } finally {
      await file.close();
    }
  };
  try {
    const script = await head();
    if (!script.includes(`# ${STANDIN_MARKER} `)) return undefined;
    const host = `${launcher}.mts`;
    const code = await readFile(host);
    const version = /STANDIN_VERSION = "([^"]+)"/.exec(code.toString("utf8"))?.[1] ?? "unknown";
    const node = (/^exec '((?:[^']|'\\'')*)'/m.exec(script)?.[1] ?? "").replaceAll("'\\''", "'");
    return { version, sha256: createHash("sha256").update(code).digest("hex"), host, node };
  } catch {
    return undefined;
  }
}

/**
 * Install the stand-in in `binDir` (the pulumi tool's bin): this file, copied as
 * `pulumi-language-nodejs.mts`, and the launcher. Never replaces a host that is not ours.
 */
export async function installLanguageHost(
  binDir: string,
  node: string,
  source = fileURLToPath(import.meta.url),
): Promise<{ action: "installed" | "updated" | "unchanged" } | { action: "not ours"; path: string }> {
  const launcher = join(binDir, HOST_BINARY);
  const host = `${launcher}.mts`;
  const existing = await readFile(launcher, "latin1").catch(() => undefined);
  if (existing !== undefined && (await standInAt(launcher)) === undefined) return { action: "not ours", path: launcher };
  const code = await readFile(source, "utf8");
  const script = launcherScript(node, host);
  if (existing === script && (await readFile(host, "utf8").catch(() => undefined)) === code) return { action: "unchanged" };
  await mkdir(binDir, { recursive: true });
  for (const [path, text, mode] of [
    [host, code, 0o644],
    [launcher, script, 0o755],
  ] as const) {
    const partial = `${path}.partial`;
    await writeFile(partial, text, { mode });
    await chmod(partial, mode);
    await rename(partial, path);
  }
  return { action: existing === undefined ? "installed" : "updated" };
}

/** Remove our stand-in from `binDir` (when Pulumi's own host is found elsewhere, so the CLI runs that). */
export async function removeLanguageHost(binDir: string): Promise<boolean> {
  const launcher = join(binDir, HOST_BINARY);
  if ((await standInAt(launcher)) === undefined) return false;
  await rm(launcher, { force: true });
  await rm(`${launcher}.mts`, { force: true });
  return true;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
