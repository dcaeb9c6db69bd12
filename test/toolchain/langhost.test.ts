// amadegi's stand-in for pulumi-language-nodejs (issue 16): the host alone over gRPC, as the CLI
// starts it; setup's install beside `pulumi`; and plain `pulumi` commands of a throwaway project
// with the host under test (a copy outside the checkout) first on PATH.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import type * as Grpc from "@grpc/grpc-js";
import type * as LangGrpc from "@pulumi/pulumi/proto/language_grpc_pb.js";
import type * as Lang from "@pulumi/pulumi/proto/language_pb.js";
import type { PluginInfo } from "@pulumi/pulumi/proto/plugin_pb.js";
import type * as EmptyPb from "google-protobuf/google/protobuf/empty_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, ensureBackend } from "../../src/toolchain/env.ts";
import { HOST_BINARY, STANDIN_VERSION, installLanguageHost, parseArgs, refusal, standInAt } from "../../src/toolchain/langhost.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { pulumiInstalled, throwawayEnv } from "../helpers/engine.ts";

const exec = promisify(execFile);
const SOURCE = join(repoRoot, "src", "toolchain", "langhost.ts");
// The SDK's stubs and the @grpc/grpc-js they were generated against, as the host loads them.
const sdk = createRequire(createRequire(join(repoRoot, "package.json")).resolve("@pulumi/pulumi/package.json"));
const grpc = sdk("@grpc/grpc-js") as typeof Grpc;
const { LanguageRuntimeClient } = sdk("./proto/language_grpc_pb.js") as typeof LangGrpc;
const lang = sdk("./proto/language_pb.js") as typeof Lang;
const { Empty } = sdk("google-protobuf/google/protobuf/empty_pb.js") as typeof EmptyPb;

/** The first line a process prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("\n")) resolve(text.split("\n")[0] ?? "");
    });
    child.on("exit", (code) => reject(new Error(`the host exited (${code}) before printing a port: ${text}`)));
  });
}

function exited(child: ChildProcess, withinMs: number): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${withinMs} ms`)), withinMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** One unary call, as a promise of the response or the gRPC error. */
function call<Res>(send: (done: (error: Grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => send((error, res) => (error === null ? resolve(res) : reject(error))));
}

/** The host as the CLI starts it: glog flags, the engine's address last, stdin a pipe the CLI holds. */
async function startHost(cwd = repoRoot): Promise<{ child: ChildProcess; client: LangGrpc.LanguageRuntimeClient }> {
  // Nothing listens on port 1: the host dials the engine only for its health check, minutes later.
  const child = spawn(process.execPath, [SOURCE, "--logtostderr", "-v=9", "127.0.0.1:1"], { cwd, stdio: ["pipe", "pipe", "inherit"] });
  const port = await firstLine(child);
  expect(port).toMatch(/^\d+$/);
  return { child, client: new LanguageRuntimeClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) };
}

function programInfo(dir: string): Lang.ProgramInfo {
  return new lang.ProgramInfo().setRootDirectory(dir).setProgramDirectory(dir).setEntryPoint(".");
}

describe("the stand-in language host, alone", () => {
  let host: Awaited<ReturnType<typeof startHost>>;
  beforeAll(async () => {
    host = await startHost();
  });
  afterAll(() => {
    host.client.close();
    host.child.kill("SIGKILL");
  });

  it("answers GetPluginInfo with its own version", async () => {
    const info = await call<PluginInfo>((done) => host.client.getPluginInfo(new Empty(), done));
    expect(info.getVersion()).toBe(STANDIN_VERSION);
  });

  it("names the resource plugins the project's dependencies declare, as GetRequiredPlugins and GetRequiredPackages", async () => {
    const command = JSON.parse(await readFile(join(repoRoot, "node_modules", "@pulumi", "command", "package.json"), "utf8")) as {
      pulumi: { name: string; version: string };
    };
    const info = programInfo(join(repoRoot, "src", "provision"));
    const plugins = await call<Lang.GetRequiredPluginsResponse>((done) =>
      host.client.getRequiredPlugins(new lang.GetRequiredPluginsRequest().setInfo(info), done),
    );
    expect(plugins.getPluginsList().map((p) => [p.getName(), p.getKind(), p.getVersion()])).toEqual([
      [command.pulumi.name, "resource", `v${command.pulumi.version}`],
    ]);
    const packages = await call<Lang.GetRequiredPackagesResponse>((done) =>
      host.client.getRequiredPackages(new lang.GetRequiredPackagesRequest().setInfo(info), done),
    );
    expect(packages.getPackagesList().map((p) => [p.getName(), p.getKind(), p.getVersion()])).toEqual([
      [command.pulumi.name, "resource", `v${command.pulumi.version}`],
    ]);
  });

  it("answers About with the Node it runs programs in", async () => {
    const about = await call<Lang.AboutResponse>((done) => host.client.about(new lang.AboutRequest().setInfo(programInfo(repoRoot)), done));
    expect(about.getExecutable()).toBe(process.execPath);
    expect(about.getVersion()).toBe(process.version);
    expect(about.getMetadataMap().get("host")).toBe(`amadegi's stand-in ${STANDIN_VERSION}`);
  });

  it("refuses what it does not do as UNIMPLEMENTED, naming Pulumi's host", async () => {
    const pack = call<Lang.PackResponse>((done) => host.client.pack(new lang.PackRequest(), done));
    await expect(pack).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: refusal("packing SDKs") });
    // A streaming call: `pulumi install`.
    const stream = host.client.installDependencies(new lang.InstallDependenciesRequest().setInfo(programInfo(repoRoot)));
    const error = await new Promise<Grpc.ServiceError>((resolve) => stream.on("error", resolve).on("data", () => {}));
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(error.details).toBe(refusal("installing dependencies (`pulumi install`; run `npm ci` in the project instead)"));
  });

  it("exits on SIGTERM", async () => {
    const { child, client } = await startHost();
    client.close();
    child.kill("SIGTERM");
    expect(await exited(child, 10_000)).toEqual({ code: 0, signal: null });
  });

  it("exits when the engine goes away (the CLI's pipe to its stdin closes)", async () => {
    const { child, client } = await startHost();
    client.close();
    child.stdin?.end();
    expect(await exited(child, 10_000)).toEqual({ code: 0, signal: null });
  });

  it("says how to fix a project without the SDK, and exits 1", async () => {
    const empty = await mkdtemp(join(tmpdir(), "amadegi-langhost-empty-"));
    try {
      const result = await exec(process.execPath, [SOURCE, "127.0.0.1:1"], { cwd: empty, encoding: "utf8" }).catch((e: { code: number; stderr: string }) => e);
      expect(result).toMatchObject({ code: 1 });
      expect((result as { stderr: string }).stderr).toContain(`cannot load @pulumi/pulumi from ${empty}`);
      expect((result as { stderr: string }).stderr).toContain("run `npm ci` in the project");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("reads the CLI's arguments: glog flags and -tracing before the engine's address", () => {
    expect(parseArgs(["--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9411", "127.0.0.1:5000"])).toEqual({
      version: false,
      engine: "127.0.0.1:5000",
      tracing: "http://127.0.0.1:9411",
      runtime: "nodejs",
    });
    expect(parseArgs(["-version"]).version).toBe(true);
  });

  it("imports nothing but node: built-ins at run time (setup copies it out of the checkout)", async () => {
    const text = await readFile(SOURCE, "utf8");
    const imports = [...text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gm)].filter((m) => m[1] === undefined).map((m) => m[2] ?? "");
    expect(imports.length).toBeGreaterThan(3);
    expect(imports.filter((s) => !s.startsWith("node:"))).toEqual([]);
  });
});

describe("installing the stand-in beside pulumi", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-langhost-install-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("copies the host and a launcher naming this Node; a second run changes nothing", async () => {
    const bin = join(dir, "bin");
    expect(await installLanguageHost(bin, process.execPath, SOURCE)).toEqual({ action: "installed" });
    expect(await installLanguageHost(bin, process.execPath, SOURCE)).toEqual({ action: "unchanged" });
    const launcher = join(bin, HOST_BINARY);
    const script = await readFile(launcher, "utf8");
    expect(script).toContain(process.execPath);
    expect(script).not.toContain(repoRoot);
    const sha256 = createHash("sha256")
      .update(await readFile(SOURCE))
      .digest("hex");
    expect(await standInAt(launcher)).toEqual({ version: STANDIN_VERSION, sha256, host: `${launcher}.mts`, node: process.execPath });
    const { stdout } = await exec(launcher, ["-version"], { cwd: dir, encoding: "utf8" });
    expect(stdout).toBe(`${STANDIN_VERSION}\n`);
  });

  it("updates its own copy when the source changed", async () => {
    const bin = join(dir, "update");
    const older = join(dir, "older.ts");
    await writeFile(older, `${await readFile(SOURCE, "utf8")}// an older build\n`);
    await installLanguageHost(bin, process.execPath, older);
    expect(await installLanguageHost(bin, process.execPath, SOURCE)).toEqual({ action: "updated" });
    expect(await readFile(join(bin, `${HOST_BINARY}.mts`), "utf8")).toBe(await readFile(SOURCE, "utf8"));
  });

  it("never replaces a host that is not its own", async () => {
    const bin = join(dir, "pulumis");
    await mkdir(bin);
    const theirs = "#!/bin/sh\necho v3.276.0\n";
    await writeFile(join(bin, HOST_BINARY), theirs, { mode: 0o755 });
    expect(await installLanguageHost(bin, process.execPath, SOURCE)).toEqual({ action: "not ours", path: join(bin, HOST_BINARY) });
    expect(await readFile(join(bin, HOST_BINARY), "utf8")).toBe(theirs);
    expect(await standInAt(join(bin, HOST_BINARY))).toBeUndefined();
  });
});

const installed = await pulumiInstalled();

describe.skipIf(!installed)(
  installed ? "plain pulumi with the stand-in host" : "plain pulumi with the stand-in host (skipped: the pulumi CLI is not installed: run scripts/setup)",
  () => {
    const stack = "e2e";
    let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
    let project: string;
    let env: NodeJS.ProcessEnv;
    const pulumi = (...args: string[]) =>
      exec("pulumi", [...args, "--non-interactive", "--color", "never"], { cwd: project, env, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    /** A command that must fail: its output and exit code. */
    const failing = (...args: string[]) =>
      pulumi(...args).then(
        (r) => ({ code: 0, output: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: e.stdout + e.stderr }),
      );

    beforeAll(async () => {
      sandbox = await throwawayEnv();
      project = join(sandbox.dir, "project");
      await mkdir(project);
      await writeFile(join(project, "Pulumi.yaml"), "name: langhost-e2e\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.ts\n");
      await writeFile(join(project, "package.json"), JSON.stringify({ name: "langhost-e2e", type: "module", dependencies: { "@pulumi/pulumi": "*" } }));
      await writeFile(
        join(project, "index.ts"),
        [
          `import * as pulumi from "@pulumi/pulumi";`,
          `const config = new pulumi.Config();`,
          `if (config.getBoolean("fail") === true) throw new Error("the program fails on purpose: langhost-e2e");`,
          `class Box extends pulumi.ComponentResource {`,
          `  constructor(name: string) {`,
          `    super("langhost:test:Box", name, {});`,
          `    this.registerOutputs({});`,
          `  }`,
          `}`,
          `const box = new Box("box");`,
          `export const greeting: string = \`hello \${config.require("who")}\`;`,
          `export const token = config.requireSecret("token");`,
          `export const boxUrn = box.urn;`,
          ``,
        ].join("\n"),
      );
      await symlink(join(repoRoot, "node_modules"), join(project, "node_modules"));
      // The host under test, installed as setup installs it, in a directory first on PATH.
      const bin = join(sandbox.dir, "bin");
      await installLanguageHost(bin, process.execPath, SOURCE);
      const engine = engineEnv(sandbox.env);
      env = { ...sandbox.env, ...engine, PATH: [bin, engine.PATH].join(delimiter), PULUMI_HOME: join(sandbox.dir, "pulumi-home") };
      await ensureBackend(sandbox.env);
      await pulumi("stack", "init", stack);
      await pulumi("config", "set", "who", "world");
      await pulumi("config", "set", "--secret", "token", "s3cret-e2e");
    }, 120_000);
    afterAll(() => sandbox.cleanup());

    it("is the host the CLI runs (pulumi about)", async () => {
      const { stdout } = await pulumi("about", "--json");
      const about = JSON.parse(stdout) as { runtime?: Record<string, string> };
      expect(about.runtime).toMatchObject({ language: "nodejs", executable: process.execPath, host: `amadegi's stand-in ${STANDIN_VERSION}` });
    }, 120_000);

    it("previews the program", async () => {
      const { stdout } = await pulumi("preview");
      expect(stdout).toMatch(/\+\s+(└─\s+)?langhost:test:Box\s+box\s+create/);
      expect(stdout).toMatch(/\+ 2 to create/);
    }, 180_000);

    it("brings the stack up, and `pulumi stack output` shows its outputs, the secret one hidden", async () => {
      const { stdout } = await pulumi("up", "--yes");
      expect(stdout).toMatch(/\+ 2 created/);
      const outputs = JSON.parse((await pulumi("stack", "output", "--json")).stdout) as Record<string, string>;
      expect(outputs).toEqual({ greeting: "hello world", token: "[secret]", boxUrn: `urn:pulumi:${stack}::langhost-e2e::langhost:test:Box::box` });
      const shown = JSON.parse((await pulumi("stack", "output", "--json", "--show-secrets")).stdout) as Record<string, string>;
      expect(shown.token).toBe("s3cret-e2e");
    }, 180_000);

    it("destroys the stack", async () => {
      const { stdout } = await pulumi("destroy", "--yes");
      expect(stdout).toMatch(/- 2 deleted/);
      expect(JSON.parse((await pulumi("stack", "output", "--json")).stdout)).toEqual({});
    }, 180_000);

    it("fails `pulumi up` with the program's own error when the program throws", async () => {
      await pulumi("config", "set", "fail", "true");
      const { code, output } = await failing("up", "--yes");
      expect(code).not.toBe(0);
      expect(output).toContain("the program fails on purpose: langhost-e2e");
    }, 180_000);
  },
);
