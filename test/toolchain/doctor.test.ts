import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolCatalog } from "../../src/toolchain/catalog.ts";
import { backendReport, inspectTool, strayDaemons } from "../../src/toolchain/doctor.ts";
import { engineEnv } from "../../src/toolchain/env.ts";
import { PLUGIN_BINARY, STANDIN_VERSION as COMMAND_STANDIN_VERSION } from "../../src/toolchain/commandprovider/index.ts";
import { codeDigest, installCode, pluginPath } from "../../src/toolchain/commandprovider/install.ts";
import { HOST_BINARY, STANDIN_VERSION, installLanguageHost } from "../../src/toolchain/langhost.ts";
import { COMMAND_PROVIDER_VERSION, PULUMI_VERSION } from "../../src/toolchain/pins.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-doctor-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("inspectTool", () => {
  it("reports a version that is not the pinned one as a problem naming both", async () => {
    const env = { ...engineEnv(), PATH: "/usr/local/bin:/usr/bin:/bin" };
    const report = await inspectTool(
      {
        name: "node",
        binary: "node",
        versionArgs: ["--version"],
        versionPattern: /v(\d+\.\d+\.\d+)/,
        expect: (v) => v.startsWith("18."),
        expected: "18.x",
        source: "node",
        needs: ["x"],
      },
      env,
    );
    expect(report.ok).toBe(false);
    expect(report.version).toMatch(/^24\./);
    expect(report.problem).toBe(`version ${report.version ?? ""}, expected 18.x: run scripts/setup`);
  });

  it("reports a missing tool with what needs it", async () => {
    const report = await inspectTool(
      { name: "nope", binary: "amadegi-no-such-tool", versionArgs: ["-v"], versionPattern: /(.)/, source: "debian", needs: ["drills"] },
      { PATH: dir },
    );
    expect(report).toEqual({ name: "nope", source: "debian", needs: ["drills"], ok: false, problem: "not found on PATH" });
  });
});

describe("the language host: Pulumi's own or amadegi's stand-in", () => {
  const spec = toolCatalog.find((t) => t.name === HOST_BINARY);
  const source = join(repoRoot, "src", "toolchain", "langhost.ts");
  const pulumisHost = async (where: string, version: string) => {
    await mkdir(where, { recursive: true });
    await writeFile(join(where, HOST_BINARY), `#!/bin/sh\necho v${version}\n`, { mode: 0o755 });
  };

  it("names the stand-in with its version and the sha256 of the code it runs", async () => {
    if (spec === undefined) throw new Error(`${HOST_BINARY} is not in the catalog`);
    const bin = join(dir, "standin");
    await installLanguageHost(bin, process.execPath, source);
    const report = await inspectTool(spec, { PATH: bin });
    const sha256 = createHash("sha256")
      .update(await readFile(source))
      .digest("hex");
    expect(report).toMatchObject({ ok: true, path: join(bin, HOST_BINARY), version: STANDIN_VERSION, sha256 });
    expect(report.identity).toBe(`amadegi's stand-in ${STANDIN_VERSION} (sha256 ${sha256.slice(0, 12)})`);
  });

  it("names Pulumi's own host with its version, and holds it to the pinned one", async () => {
    if (spec === undefined) throw new Error(`${HOST_BINARY} is not in the catalog`);
    await pulumisHost(join(dir, "pulumis"), PULUMI_VERSION);
    expect(await inspectTool(spec, { PATH: join(dir, "pulumis") })).toMatchObject({ ok: true, identity: `Pulumi's ${PULUMI_VERSION}` });
    await pulumisHost(join(dir, "old"), "3.1.0");
    expect(await inspectTool(spec, { PATH: join(dir, "old") })).toMatchObject({ ok: false, identity: "Pulumi's 3.1.0" });
  });

  it("finds a host beside the pulumi the PATH leads to, as the CLI does", async () => {
    if (spec === undefined) throw new Error(`${HOST_BINARY} is not in the catalog`);
    const tool = join(dir, "tool", "bin");
    await installLanguageHost(tool, process.execPath, source);
    await writeFile(join(tool, "pulumi"), "#!/bin/sh\n", { mode: 0o755 });
    const linked = join(dir, "linked");
    await mkdir(linked);
    await symlink(join(tool, "pulumi"), join(linked, "pulumi"));
    expect(await inspectTool(spec, { PATH: linked })).toMatchObject({ ok: true, path: join(tool, HOST_BINARY), version: STANDIN_VERSION });
  });

  it("says how to get one when there is none", async () => {
    if (spec === undefined) throw new Error(`${HOST_BINARY} is not in the catalog`);
    expect(await inspectTool(spec, { PATH: join(dir, "nowhere") })).toMatchObject({
      ok: false,
      problem: "not installed: run scripts/setup (it installs amadegi's stand-in where Pulumi's own cannot be had)",
    });
  });
});

describe("the command provider: Pulumi's own or amadegi's stand-in", () => {
  const spec = toolCatalog.find((t) => t.name === PLUGIN_BINARY);

  it("names the stand-in registered in PULUMI_HOME with its version and the sha256 of the code it runs", async () => {
    if (spec === undefined) throw new Error(`${PLUGIN_BINARY} is not in the catalog`);
    const env = { ...process.env, AMADEGI_CACHE: join(dir, "cmd-cache"), PULUMI_HOME: join(dir, "cmd-home") };
    const code = await installCode({ node: process.execPath, env, nodeModules: join(repoRoot, "node_modules") });
    // As `pulumi plugin install --file` leaves it: the launcher, copied alone.
    await mkdir(join(pluginPath(env), ".."), { recursive: true });
    await copyFile(code.launcher, pluginPath(env));
    const report = await inspectTool(spec, { PATH: join(dir, "nowhere"), PULUMI_HOME: env.PULUMI_HOME });
    const sha256 = await codeDigest(code.dir);
    expect(report).toMatchObject({ ok: true, path: pluginPath(env), version: COMMAND_STANDIN_VERSION, sha256 });
    expect(report.identity).toBe(`amadegi's stand-in ${COMMAND_STANDIN_VERSION} (sha256 ${sha256.slice(0, 12)})`);
  });

  it("names Pulumi's own provider with its version", async () => {
    if (spec === undefined) throw new Error(`${PLUGIN_BINARY} is not in the catalog`);
    const home = join(dir, "pulumis-cmd-home");
    const plugin = join(home, "plugins", `resource-command-v${COMMAND_PROVIDER_VERSION}`);
    await mkdir(plugin, { recursive: true });
    await writeFile(join(plugin, PLUGIN_BINARY), `#!/bin/sh\necho ${COMMAND_PROVIDER_VERSION}\n`, { mode: 0o755 });
    expect(await inspectTool(spec, { PATH: join(dir, "nowhere"), PULUMI_HOME: home })).toMatchObject({
      ok: true,
      identity: `Pulumi's ${COMMAND_PROVIDER_VERSION}`,
    });
  });
});

describe("strayDaemons", () => {
  // Real processes whose name is a daemon's: a copy of a shell named nginx.
  // One runs with no configuration of its own (as a package's daemon would),
  // the other with a config outside /etc (as the project starts its own).
  it("reports a daemon on the system configuration and not one on a project configuration", async () => {
    const fake = join(dir, "nginx");
    await copyFile("/bin/bash", fake);
    const system = spawn(fake, ["-c", "sleep 30; true"], { stdio: "ignore" });
    const project = spawn(fake, ["-c", "sleep 30; true", join(dir, "project-nginx.conf")], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const pids = (await strayDaemons()).map((d) => d.pid);
      expect(pids).toContain(system.pid);
      expect(pids).not.toContain(project.pid);
    } finally {
      system.kill();
      project.kill();
    }
  });
});

describe("backendReport", () => {
  it("warns when a production stack would keep its state in a local file, and only then", async () => {
    const stacks = join(dir, "stacks");
    await mkdir(stacks, { recursive: true });
    await writeFile(join(stacks, "Pulumi.tehran-prod.yaml"), "config:\n  amadegi:environment: production\n");
    await writeFile(join(stacks, "Pulumi.rehearsal.yaml"), "config:\n  amadegi:environment: rehearsal\n");
    const local = await backendReport("file:///var/amadegi", stacks);
    expect(local.kind).toBe("file");
    expect(local.warnings).toEqual([
      "stack tehran-prod is production but the backend is a local file (file:///var/amadegi): use a shared, locked backend for production",
    ]);
    const shared = await backendReport("s3://election-state", stacks);
    expect(shared).toEqual({ url: "s3://election-state", kind: "service", warnings: [] });
  });
});
