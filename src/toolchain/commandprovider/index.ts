// amadegi-stand-in:pulumi-resource-command
/**
 * amadegi's stand-in for Pulumi's `pulumi-resource-command` 1.2.1, which the Go module proxy here
 * refuses (ADR 0003). It serves the unchanged npm `@pulumi/command@1.2.1` SDK's `local.Command`,
 * `remote.Command` and `remote.CopyToRemote` with the same types, inputs, outputs and semantics
 * (resources.ts says which, and where in pulumi-command's source they were read), over OpenSSH for
 * the remote ones; what it does not do it refuses in Check, before anything runs.
 *
 * Written on the SDK's generated gRPC stubs rather than `@pulumi/pulumi/provider`'s `main`: that
 * server answers Configure without `supportsPreview` and Diff without a detailed diff, so previews
 * would not show stdout as unknown nor `--diff` which property changed, as Pulumi's provider does.
 *
 * Self-contained: setup copies this folder's runtime files out of the checkout into the tool cache,
 * beside their own node_modules (scripts/plugins/command), so only node: built-ins are imported;
 * gRPC and the stubs come from the @pulumi/pulumi that resolves from where this file lives.
 */
import type { ChildProcess } from "node:child_process";
import { fstatSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Grpc from "@grpc/grpc-js";
import type * as EngineGrpc from "@pulumi/pulumi/proto/engine_grpc_pb.js";
import type * as EnginePb from "@pulumi/pulumi/proto/engine_pb.js";
import type * as PluginPb from "@pulumi/pulumi/proto/plugin_pb.js";
import type * as ProviderGrpc from "@pulumi/pulumi/proto/provider_grpc_pb.js";
import type * as ProviderPb from "@pulumi/pulumi/proto/provider_pb.js";
import type * as EmptyPb from "google-protobuf/google/protobuf/empty_pb.js";
import type * as StructPb from "google-protobuf/google/protobuf/struct_pb.js";
import { check } from "./check.ts";
import { CommandFailed } from "./local.ts";
import { create, diff, remove, RESOURCE_TYPES, update } from "./resources.ts";
import { closeSharedConnections, ConnectionRefused } from "./ssh.ts";
import type { DiffKind, Props } from "./wire.ts";

/** The plugin's name and version, as the SDK asks for them (package.json "pulumi"). */
export const PLUGIN_BINARY = "pulumi-resource-command";
export const PLUGIN_VERSION = "1.2.1";
/** Written against pulumi-command 1.2.1; the suffix says it is not Pulumi's build. */
export const STANDIN_VERSION = "1.2.1-amadegi.2";
/** The first line of this file and a line of its launcher: how setup and doctor know it is ours. */
export const STANDIN_MARKER = "amadegi-stand-in:pulumi-resource-command";
/** Pulumi's own limit for plugin messages (rpcutil.MaxRPCMessageSize). */
const MAX_MESSAGE_BYTES = 400 * 1024 * 1024;

interface Sdk {
  readonly grpc: typeof Grpc;
  readonly service: typeof ProviderGrpc.ResourceProviderService;
  readonly provider: typeof ProviderPb;
  readonly plugin: typeof PluginPb;
  readonly engine: typeof EnginePb;
  readonly EngineClient: typeof EngineGrpc.EngineClient;
  readonly Struct: typeof StructPb.Struct;
  readonly Empty: typeof EmptyPb.Empty;
}

function loadSdk(): Sdk {
  const sdk = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi/package.json"));
  return {
    grpc: sdk("@grpc/grpc-js"),
    service: (sdk("./proto/provider_grpc_pb.js") as typeof ProviderGrpc).ResourceProviderService,
    provider: sdk("./proto/provider_pb.js"),
    plugin: sdk("./proto/plugin_pb.js"),
    engine: sdk("./proto/engine_pb.js"),
    EngineClient: (sdk("./proto/engine_grpc_pb.js") as typeof EngineGrpc).EngineClient,
    Struct: (sdk("google-protobuf/google/protobuf/struct_pb.js") as typeof StructPb).Struct,
    Empty: (sdk("google-protobuf/google/protobuf/empty_pb.js") as typeof EmptyPb).Empty,
  };
}

const WHO = `${PLUGIN_BINARY} (amadegi's stand-in ${STANDIN_VERSION})`;

export function refusal(what: string): string {
  return `${what} is not supported by amadegi's stand-in for ${PLUGIN_BINARY}; install Pulumi's ${PLUGIN_BINARY} ${PLUGIN_VERSION} for it`;
}

function typeOf(urn: string): string {
  // urn:pulumi:<stack>::<project>::<parent types$>type::<name>
  return urn.split("::")[2]?.split("$").at(-1) ?? "";
}

/** Serve the provider protocol until a signal or the end of stdin; resolve with the port. */
export async function serve(sdk: Sdk, engineAddress: string): Promise<{ port: number; stop: () => void }> {
  const { grpc, provider: pb, Struct } = sdk;
  const running = new Set<ChildProcess>();
  let engine = engineAddress;
  let logClient: EngineGrpc.EngineClient | undefined;
  const log = (urn: string, message: string) => {
    if (engine === "") return;
    logClient ??= new sdk.EngineClient(engine, grpc.credentials.createInsecure());
    const req = new sdk.engine.LogRequest().setSeverity(sdk.engine.LogSeverity.INFO).setMessage(message).setUrn(urn).setEphemeral(true);
    logClient.log(req, () => {});
  };
  const context = (urn: string) => ({ urn, running, log: (line: string) => log(urn, line) });
  const props = (s: StructPb.Struct | undefined): Props => (s?.toJavaScript() ?? {}) as Props;
  const struct = (p: Props) => Struct.fromJavaScript(p as Record<string, StructPb.JavaScriptValue>);
  const fail = (done: (e: Partial<Grpc.StatusObject>) => void, error: unknown, urn: string) => {
    const known = error instanceof CommandFailed || error instanceof ConnectionRefused;
    const message = known ? error.message : `${WHO}: ${(error as Error).stack ?? String(error)} (${urn})`;
    done({ code: grpc.status.UNKNOWN, details: message });
  };
  const unknownType = (urn: string) => ({ code: grpc.status.INVALID_ARGUMENT, details: refusal(`the resource type ${typeOf(urn)}`) });
  const KINDS: Record<DiffKind, ProviderPb.PropertyDiff.Kind> = {
    add: pb.PropertyDiff.Kind.ADD,
    "add-replace": pb.PropertyDiff.Kind.ADD_REPLACE,
    delete: pb.PropertyDiff.Kind.DELETE,
    "delete-replace": pb.PropertyDiff.Kind.DELETE_REPLACE,
    update: pb.PropertyDiff.Kind.UPDATE,
    "update-replace": pb.PropertyDiff.Kind.UPDATE_REPLACE,
  };

  const served: Partial<ProviderGrpc.IResourceProviderServer> = {
    getPluginInfo: (_call, done) => done(null, new sdk.plugin.PluginInfo().setVersion(PLUGIN_VERSION)),
    attach: (call, done) => {
      engine = call.request.getAddress();
      done(null, new sdk.Empty());
    },
    checkConfig: (call, done) => done(null, new pb.CheckResponse().setInputs(call.request.getNews())),
    diffConfig: (_call, done) => done(null, new pb.DiffResponse().setChanges(pb.DiffResponse.DiffChanges.DIFF_NONE)),
    configure: (_call, done) =>
      done(null, new pb.ConfigureResponse().setAcceptsecrets(true).setSupportspreview(true).setAcceptresources(true).setAcceptoutputs(false)),
    check: (call, done) => {
      const urn = call.request.getUrn();
      if (!RESOURCE_TYPES.includes(typeOf(urn))) return done(unknownType(urn));
      const result = check(typeOf(urn), props(call.request.getNews()));
      const failures = result.failures.map((f) => new pb.CheckFailure().setProperty(f.property).setReason(f.reason));
      done(null, new pb.CheckResponse().setInputs(struct(result.inputs)).setFailuresList(failures));
    },
    diff: (call, done) => {
      const req = call.request;
      const urn = req.getUrn();
      if (!RESOURCE_TYPES.includes(typeOf(urn))) return done(unknownType(urn));
      const oldInputs = req.hasOldInputs() ? props(req.getOldInputs()) : undefined;
      const d = diff(typeOf(urn), props(req.getOlds()), props(req.getNews()), oldInputs, req.getIgnorechangesList());
      const res = new pb.DiffResponse()
        .setChanges(d.changes ? pb.DiffResponse.DiffChanges.DIFF_SOME : pb.DiffResponse.DiffChanges.DIFF_NONE)
        .setReplacesList([...d.replaces])
        .setDiffsList([...d.detailed.keys()])
        .setHasdetaileddiff(true);
      for (const [key, kind] of d.detailed) res.getDetaileddiffMap().set(key, new pb.PropertyDiff().setKind(KINDS[kind]).setInputdiff(true));
      done(null, res);
    },
    create: (call, done) => {
      const urn = call.request.getUrn();
      if (!RESOURCE_TYPES.includes(typeOf(urn))) return done(unknownType(urn));
      create(typeOf(urn), urn, props(call.request.getProperties()), call.request.getPreview(), context(urn)).then(
        (r) => done(null, new pb.CreateResponse().setId(r.id).setProperties(struct(r.outs))),
        (e: unknown) => fail(done, e, urn),
      );
    },
    read: (call, done) => {
      // pulumi-command has no Read of its own: a refresh keeps what the state says.
      const req = call.request;
      done(null, new pb.ReadResponse().setId(req.getId()).setProperties(req.getProperties()).setInputs(req.getInputs()));
    },
    update: (call, done) => {
      const urn = call.request.getUrn();
      if (!RESOURCE_TYPES.includes(typeOf(urn))) return done(unknownType(urn));
      update(typeOf(urn), props(call.request.getOlds()), props(call.request.getNews()), call.request.getPreview(), context(urn)).then(
        (outs) => done(null, new pb.UpdateResponse().setProperties(struct(outs))),
        (e: unknown) => fail(done, e, urn),
      );
    },
    delete: (call, done) => {
      const urn = call.request.getUrn();
      if (!RESOURCE_TYPES.includes(typeOf(urn))) return done(unknownType(urn));
      remove(typeOf(urn), props(call.request.getProperties()), context(urn)).then(
        () => done(null, new sdk.Empty()),
        (e: unknown) => fail(done, e, urn),
      );
    },
    invoke: (call, done) => {
      const what = call.request.getTok() === "command:local:run" ? "local.run (an invoke)" : `the function ${call.request.getTok()}`;
      done({ code: grpc.status.UNIMPLEMENTED, details: `${refusal(what)}; a local.Command does the same once` });
    },
    cancel: (_call, done) => {
      running.forEach((child) => child.kill("SIGTERM"));
      done(null, new sdk.Empty());
    },
  };
  const handlers: Grpc.UntypedServiceImplementation = { ...(served as Grpc.UntypedServiceImplementation) };
  for (const [name, method] of Object.entries(sdk.service)) {
    if (handlers[name] !== undefined) continue;
    const status = { code: grpc.status.UNIMPLEMENTED, details: refusal(`the ${method.path.split("/").at(-1) ?? name} call`) };
    handlers[name] = method.responseStream
      ? (call: Grpc.ServerWritableStream<unknown, unknown>) => call.emit("error", status)
      : (_call: unknown, done: Grpc.sendUnaryData<unknown>) => done(status);
  }
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });
  server.addService(sdk.service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    running.forEach((child) => child.kill("SIGTERM"));
    logClient?.close();
    server.forceShutdown();
    // The servers' shared SSH connections end with the engine's use of this provider.
    void closeSharedConnections();
  };
  return { port, stop };
}

function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/** The engine's arguments: glog's `--logtostderr`/`-v=N`, `--tracing X`, `-version`; its address last. */
export function parseArgs(argv: readonly string[]): { version: boolean; engine: string } {
  const out = { version: false, engine: "" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (/^--?version$/.test(arg)) out.version = true;
    else if (/^--?tracing$/.test(arg)) i++;
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
  let sdk: Sdk;
  try {
    sdk = loadSdk();
  } catch (error) {
    console.error(`${WHO}: cannot load @pulumi/pulumi beside ${import.meta.filename} (${(error as Error).message.split("\n")[0]}): run scripts/setup`);
    return 1;
  }
  const served = await serve(sdk, args.engine);
  const pipe = stdinIsPipe();
  const stop = () => {
    served.stop();
    if (pipe) process.stdin.destroy();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The engine holds a pipe to our stdin for as long as it needs us.
  if (pipe) process.stdin.on("end", stop).resume();
  process.stdout.write(`${served.port}\n`);
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
