import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, renderEnvScript } from "../../src/toolchain/env.ts";
import { toolDir } from "../../src/toolchain/paths.ts";

const exec = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-env-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("engineEnv", () => {
  it("keeps the engine offline, on a file backend under the state dir, with passphrase secrets", () => {
    const env = engineEnv({ AMADEGI_STATE_DIR: "/s", AMADEGI_CACHE: "/c", PATH: "/usr/bin" });
    expect(env).toMatchObject({
      PULUMI_BACKEND_URL: "file:///s/pulumi",
      PULUMI_CONFIG_PASSPHRASE_FILE: "/s/passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    });
    const path = env.PATH?.split(":") ?? [];
    expect(path[0]).toBe(join(toolDir("pulumi", "v3.276.0", { AMADEGI_CACHE: "/c" }), "bin"));
    expect(path.at(-1)).toBe("/usr/bin");
  });

  it("leaves a backend or passphrase the user chose", () => {
    const env = engineEnv({ PULUMI_BACKEND_URL: "s3://bucket", PULUMI_CONFIG_PASSPHRASE_FILE: "/p" });
    expect(env.PULUMI_BACKEND_URL).toBe("s3://bucket");
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe("/p");
  });
});

describe("renderEnvScript", () => {
  it("is a script bash sources to the same values, even with a quote in a path", async () => {
    const state = join(dir, "it's state");
    const script = join(dir, "env.sh");
    await writeFile(script, renderEnvScript({ AMADEGI_STATE_DIR: state, AMADEGI_CACHE: "/c" }));
    const { stdout } = await exec("bash", ["-c", `PATH=/usr/bin:/bin; . "${script}"; echo "$PULUMI_BACKEND_URL"; echo "$PATH"`]);
    const [backend, path] = stdout.trim().split("\n");
    expect(backend).toBe(`file://${state}/pulumi`);
    expect(path?.endsWith(":/usr/bin:/bin")).toBe(true);
    expect(path?.startsWith("/c/tools/pulumi-v3.276.0/bin:")).toBe(true);
  });
});
