import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv } from "../../src/toolchain/env.ts";
import { goBuildInfo, parseGoVersionM, run, sha256File, which } from "../../src/toolchain/inspect.ts";
import { PULUMI_VERSION } from "../../src/toolchain/pins.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-inspect-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("which", () => {
  it("finds the first executable on the PATH and skips files that are not executable", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await Promise.all([rm(a, { recursive: true, force: true }), rm(b, { recursive: true, force: true })]);
    await exec("mkdir", ["-p", a, b]);
    await writeFile(join(a, "tool"), "not executable");
    await writeFile(join(b, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    expect(await which("tool", `${a}:${b}`)).toBe(join(b, "tool"));
    await chmod(join(a, "tool"), 0o755);
    expect(await which("tool", `${a}:${b}`)).toBe(join(a, "tool"));
    expect(await which("no-such-tool", `${a}:${b}`)).toBeUndefined();
  });
});

async function exec(file: string, args: string[]): Promise<void> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(r.stderr);
}

describe("run", () => {
  it("returns a missing program as a result, never throwing", async () => {
    const r = await run(join(dir, "missing"), []);
    expect(r.code).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
  });
  it("returns the exit code and both streams", async () => {
    const r = await run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
  });
});

describe("sha256File", () => {
  it("hashes a file's bytes", async () => {
    const file = join(dir, "abc");
    await writeFile(file, "abc");
    expect(await sha256File(file)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("parseGoVersionM", () => {
  it("reads the module, main package and Pulumi dependencies of the pulumi binary setup built", async () => {
    const pulumi = await which("pulumi", engineEnv().PATH);
    expect(pulumi, "run scripts/setup first").toBeDefined();
    const info = await goBuildInfo(pulumi ?? "");
    expect(info?.go).toMatch(/^go1\.\d+/);
    expect(info?.path).toBe("github.com/pulumi/pulumi/pkg/v3/cmd/pulumi");
    expect(info?.mod).toBe(`github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}`);
    expect(info?.sum).toMatch(/^h1:[A-Za-z0-9+/]+=$/);
    expect(info?.deps["github.com/pulumi/pulumi/sdk/v3"]).toBe(`v${PULUMI_VERSION}`);
  });

  it("parses a recorded ldflags line and ignores other modules' dependencies", () => {
    const text = [
      "/x/tool: go1.26.8",
      "\tpath\texample.com/tool",
      "\tmod\texample.com/tool\tv1.2.3\th1:abc=",
      "\tdep\tgithub.com/pulumi/pulumi/sdk/v3\tv3.1.0\th1:def=",
      "\tdep\tgolang.org/x/sys\tv0.1.0\th1:ghi=",
      '\tbuild\t-ldflags="-X main.version=v1.2.3"',
    ].join("\n");
    expect(parseGoVersionM(text)).toEqual({
      go: "go1.26.8",
      path: "example.com/tool",
      mod: "example.com/tool v1.2.3",
      sum: "h1:abc=",
      ldflags: "-X main.version=v1.2.3",
      deps: { "github.com/pulumi/pulumi/sdk/v3": "v3.1.0" },
    });
  });

  it("returns undefined for a binary Go did not build", () => {
    expect(parseGoVersionM("/bin/ls: could not read Go build info from /bin/ls")).toBeUndefined();
  });
});
