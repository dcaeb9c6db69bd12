// Setup's install of the stand-in command provider: its code and a pinned node_modules in the tool
// cache, a launcher, `pulumi plugin install … --file`, and a plugin that keeps working once the
// checkout it came from is gone. Runs `npm ci` against the npm registry, as setup does.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLUGIN_BINARY, STANDIN_MARKER, STANDIN_VERSION } from "../../../src/toolchain/commandprovider/index.ts";
import {
  codeDigest,
  installCode,
  launcherScript,
  PACKAGE_DIR,
  pluginPath,
  registerPlugin,
  RUNTIME_FILES,
  SOURCE_DIR,
  standInAt,
} from "../../../src/toolchain/commandprovider/install.ts";
import { engineEnv } from "../../../src/toolchain/env.ts";
import { which } from "../../../src/toolchain/inspect.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { inlineStack, throwawayEnv } from "../../helpers/engine.ts";

const ENGINE_TIMEOUT = 300_000;

let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
beforeAll(async () => {
  sandbox = await throwawayEnv();
});
afterAll(() => sandbox.cleanup());

describe("the launcher", () => {
  it("names its Node and its code by absolute path, and carries the marker and version", () => {
    expect(launcherScript("/usr/local/bin/node", "/c/it's/provider/index.ts")).toBe(
      `#!/bin/sh\n# ${STANDIN_MARKER} ${STANDIN_VERSION}\n# amadegi's stand-in for Pulumi's ${PLUGIN_BINARY}, installed by scripts/setup.\n` +
        `exec '/usr/local/bin/node' '/c/it'\\''s/provider/index.ts' "$@"\n`,
    );
  });

  it("pins @pulumi/pulumi exactly, in package.json and its lockfile", async () => {
    const pkg = JSON.parse(await readFile(join(PACKAGE_DIR, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const lock = JSON.parse(await readFile(join(PACKAGE_DIR, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    const root = JSON.parse(await readFile(join(SOURCE_DIR, "..", "..", "..", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies).toEqual({ "@pulumi/pulumi": root.dependencies["@pulumi/pulumi"] });
    expect(lock.packages["node_modules/@pulumi/pulumi"]?.version).toBe(root.dependencies["@pulumi/pulumi"]);
  });
});

describe("install", () => {
  it(
    "installs code, dependencies and launcher in the cache and registers the plugin, which works after its source is deleted",
    async () => {
      // A copy of the checkout's provider, deleted once installed: nothing may point into it.
      const checkout = await mkdtemp(join(sandbox.dir, "checkout-"));
      await cp(SOURCE_DIR, join(checkout, "src"), { recursive: true });
      await cp(PACKAGE_DIR, join(checkout, "pkg"), { recursive: true });
      const env = { ...sandbox.env, AMADEGI_CACHE: join(sandbox.dir, "cache"), PULUMI_HOME: join(sandbox.dir, "pulumi-home") };
      const options = { node: process.execPath, env, sourceDir: join(checkout, "src"), packageDir: join(checkout, "pkg") };
      const code = await installCode(options);
      expect(code.action).toBe("installed");
      expect(await installCode(options)).toMatchObject({ action: "unchanged" });

      const pulumi = await which("pulumi", engineEnv(env).PATH);
      if (pulumi === undefined) throw new Error("no pulumi: run scripts/setup");
      const engine = { ...env, ...engineEnv(env) };
      expect(await registerPlugin(code.launcher, pulumi, engine)).toEqual({ action: "installed", path: pluginPath(env) });
      expect(await registerPlugin(code.launcher, pulumi, engine)).toMatchObject({ action: "unchanged" });
      const ours = await standInAt(pluginPath(env));
      expect(ours).toEqual({ version: STANDIN_VERSION, sha256: await codeDigest(code.dir), code: code.dir, node: process.execPath });

      await rm(checkout, { recursive: true, force: true });
      const { local } = await import("@pulumi/command");
      const marker = join(sandbox.dir, "ran-after-checkout-deleted");
      const stack = await inlineStack(sandbox, env.PULUMI_HOME, "installed", async () => {
        const c = new local.Command("proof", { create: `echo proof | tee ${marker}` });
        return { stdout: c.stdout };
      });
      expect((await stack.up({ color: "never" })).outputs.stdout?.value).toBe("proof");
      expect(await readFile(marker, "utf8")).toBe("proof\n");
      await stack.destroy({ color: "never" });
      // A changed source is copied over in place; npm ci is not run again for it.
      const changed = await mkdtemp(join(sandbox.dir, "checkout-"));
      await cp(SOURCE_DIR, changed, { recursive: true });
      await writeFile(join(changed, "wire.ts"), `${await readFile(join(changed, "wire.ts"), "utf8")}\n// changed\n`);
      expect(await installCode({ ...options, sourceDir: changed, packageDir: PACKAGE_DIR })).toMatchObject({ action: "updated" });
      expect(await readFile(join(code.dir, "provider", "wire.ts"), "utf8")).toContain("// changed");
      expect(RUNTIME_FILES).not.toContain("install.ts");
    },
    ENGINE_TIMEOUT,
  );

  it(
    "takes a registered stand-in whose tool cache was removed for ours, not for Pulumi's, and registers it again",
    async () => {
      const pulumi = await which("pulumi", engineEnv(sandbox.env).PATH);
      if (pulumi === undefined) throw new Error("no pulumi: run scripts/setup");
      const home = join(sandbox.dir, "gone-home");
      const at = (cache: string) => ({ ...sandbox.env, AMADEGI_CACHE: join(sandbox.dir, cache), PULUMI_HOME: home });
      const first = await installCode({ node: process.execPath, env: at("cache-gone"), nodeModules: join(repoRoot, "node_modules") });
      expect((await registerPlugin(first.launcher, pulumi, { ...at("cache-gone"), ...engineEnv(at("cache-gone")) })).action).toBe("installed");
      await rm(join(sandbox.dir, "cache-gone"), { recursive: true, force: true });
      expect(await standInAt(pluginPath(at("cache-gone")))).toMatchObject({ version: "missing", code: first.dir });
      const second = await installCode({ node: process.execPath, env: at("cache-new"), nodeModules: join(repoRoot, "node_modules") });
      expect((await registerPlugin(second.launcher, pulumi, { ...at("cache-new"), ...engineEnv(at("cache-new")) })).action).toBe("updated");
      expect(await standInAt(pluginPath(at("cache-new")))).toMatchObject({ version: STANDIN_VERSION, code: second.dir });
    },
    ENGINE_TIMEOUT,
  );

  it("leaves a plugin that is not ours alone", async () => {
    const env = { ...sandbox.env, PULUMI_HOME: join(sandbox.dir, "pulumis-home") };
    await mkdir(join(pluginPath(env), ".."), { recursive: true });
    await writeFile(pluginPath(env), "\x7fELF Pulumi's own provider\n", { mode: 0o755 });
    expect(await registerPlugin("/nonexistent/launcher", "/nonexistent/pulumi", env)).toEqual({ action: "not ours", path: pluginPath(env) });
    expect(await readFile(pluginPath(env), "utf8")).toBe("\x7fELF Pulumi's own provider\n");
  });
});
