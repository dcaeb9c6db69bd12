import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendReport, inspectTool, strayDaemons } from "../../src/toolchain/doctor.ts";
import { engineEnv } from "../../src/toolchain/env.ts";

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
