import { describe, expect, it } from "vitest";
import { commands } from "../../src/cli/commands/index.ts";
import { main } from "../../src/cli/main.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: process.cwd(), env: process.env }, out, err };
}

describe("amadegi", () => {
  it("lists every command with the exit codes", async () => {
    const { io, out } = capture();
    expect(await main(["--help"], io)).toBe(0);
    for (const c of commands) expect(out.join("\n")).toContain(`  ${c.name}`);
    expect(out.join("\n")).toContain("Exit codes: 0 ready/valid, 1 not ready/findings, 2 could not run.");
  });

  it("exits 2 with the list of commands for an unknown one", async () => {
    const { io, err } = capture();
    expect(await main(["valdiate"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/^amadegi: no command "valdiate"; commands: demo, doctor, /);
  });

  it.each(commands.map((c) => c.name))("%s --help prints its usage and exits 0", async (name) => {
    const { io, out } = capture();
    expect(await main([name, "--help"], io)).toBe(0);
    expect(out.join("\n")).toMatch(new RegExp(`^Usage: amadegi ${name}\\b`));
  });

  it("exits 2 naming an unknown option and where to look", async () => {
    const { io, err } = capture();
    expect(await main(["doctor", "--jsn"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/UsageError: .*'--jsn'.*\n {2}→ see `amadegi doctor --help`/);
  });

  it("exits 2 when a stack command has no --stack", async () => {
    const { io, err } = capture();
    expect(await main(["preview"], io)).toBe(2);
    expect(err.join("\n")).toContain("UsageError: preview needs --stack NAME");
  });
});

describe("amadegi writing into a closed pipe", () => {
  it("finishes quietly with the command's own exit code when the reader goes away", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { repoRoot } = await import("../../src/toolchain/paths.ts");
    // The sample inventory's JSON is far larger than the pipe's buffer, so writes hit EPIPE.
    const script = 'node bin/amadegi.js validate --today 2026-11-22 --json | head -c 10 > /dev/null; echo "exit ${PIPESTATUS[0]}"';
    const { stdout, stderr } = await promisify(execFile)("bash", ["-c", script], { cwd: repoRoot, encoding: "utf8" });
    expect(stderr).toBe("");
    expect(stdout.trim()).toBe("exit 0");
  }, 30_000);
});
