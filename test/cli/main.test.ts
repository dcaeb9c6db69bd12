import { describe, expect, it } from "vitest";
import { type Command, type CommandGroup, defineCommand, isGroup } from "../../src/cli/command.ts";
import { commands } from "../../src/cli/commands/index.ts";
import { main } from "../../src/cli/main.ts";
import { ExitCode } from "../../src/lib/exit.ts";

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
    expect(out.join("\n")).toContain("Exit codes: 0 ready/valid, 1 not ready/findings, 2 could not run, 130 interrupted (Ctrl-C).");
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

/** Every command and group, sub-commands included. */
async function everyCommand(): Promise<(Command | CommandGroup)[]> {
  const found: (Command | CommandGroup)[] = [];
  const walk = (c: Command | CommandGroup): void => {
    found.push(c);
    if (isGroup(c)) for (const s of c.subcommands) walk(s.command);
  };
  for (const entry of commands) walk(await entry.load());
  return found;
}

/** The options a command (a group: any of its sub-commands) declares. */
function declared(c: Command | CommandGroup): Set<string> {
  return isGroup(c) ? new Set(c.subcommands.flatMap((s) => [...declared(s.command)])) : new Set(Object.keys(c.options));
}

/** What is wrong with a usage: a declared option without its line, a `--x` named and not declared. */
function usageProblems(c: Command | CommandGroup): string[] {
  const options = declared(c);
  const problems: string[] = [];
  if (!isGroup(c))
    for (const name of options)
      if (!new RegExp(`^ {2}--${name}\\b`, "m").test(c.usage)) problems.push(`${c.name}: --${name} is declared, and the usage has no line for it`);
  // Another command's line it quotes (`amadegi check --select …`) names that command's options.
  const own = c.name.split(" ")[0];
  const text = c.usage.replace(/amadegi ([a-z]+)((?: --[a-z][a-z0-9-]*(?: (?!--)[^\s`]+)?)*)/g, (line: string, command: string) =>
    command === own ? line : "",
  );
  for (const [, name = ""] of text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g))
    if (name !== "help" && !options.has(name)) problems.push(`${c.name}: the usage names --${name}, which is not declared`);
  return problems;
}

describe("every command's usage", () => {
  it("has a line for each declared option and names no option that is not declared, sub-commands included", async () => {
    const all = await everyCommand();
    expect(all.map((c) => c.name)).toEqual(expect.arrayContaining(["gate", "rehearsal", "rehearsal up", "rehearsal devices", "rehearsal devices start"]));
    expect(all.flatMap(usageProblems)).toEqual([]);
  });

  it("finds an option missing from the usage and one the usage names that is not declared (so a pass means something)", () => {
    const run = async () => ExitCode.OK;
    const generated = defineCommand({
      name: "x",
      synopsis: "amadegi x [--nope]",
      after: "see `amadegi y --json`, then `amadegi x --out a --nope`",
      options: { out: { type: "string", placeholder: "DIR", description: "where" } },
      run,
    });
    const written: Command = {
      name: "y",
      usage: "Usage: amadegi y\n\n  --json  as JSON",
      options: { json: { type: "boolean", description: "as JSON" }, out: { type: "string", description: "where" } },
      run,
    };
    expect([...usageProblems(generated), ...usageProblems(written)]).toEqual([
      "x: the usage names --nope, which is not declared",
      "x: the usage names --nope, which is not declared",
      "y: --out is declared, and the usage has no line for it",
    ]);
  });

  it.each([
    ["rehearsal", "devices", "--help"],
    ["rehearsal", "devices", "start", "--help"],
  ])("%s %s %s prints that level's usage and exits 0", async (...argv) => {
    const { io, out } = capture();
    expect(await main(argv, io)).toBe(0);
    expect(out.join("\n")).toMatch(new RegExp(`^Usage: amadegi ${argv.slice(0, -1).join(" ")}\\b`));
  });

  it("exits 2 naming the sub-commands for an unknown one, as for an unknown command", async () => {
    const { io, err } = capture();
    expect(await main(["rehearsal", "devices", "begin"], io)).toBe(2);
    expect(err.join("\n")).toMatch(
      /^UsageError: rehearsal devices needs one of keys, start, stop, status, not "begin"\n {2}→ see `amadegi rehearsal devices --help`/,
    );
  });

  it("applies a declared default once: the usage shows it", async () => {
    const check = (await everyCommand()).find((c) => c.name === "check");
    expect(check?.usage).toMatch(/^ {2}--deadline TIME +.*\(default: 60s\)$/m);
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

describe("bin/amadegi.js", () => {
  it("keeps Node's compile cache in the state directory, its owner's alone, and runs the same from it", async () => {
    const { mkdtemp, readdir, rm, stat } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { runCli } = await import("../helpers/cli.ts");
    const state = await mkdtemp(join(tmpdir(), "amadegi-compile-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, AMADEGI_STATE_DIR: state };
      delete env.NODE_COMPILE_CACHE;
      const first = await runCli(["validate", "--help"], env);
      expect(first.code).toBe(0);
      const dir = join(state, "cache", "compile");
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await readdir(dir, { recursive: true })).length, "cache entries written at exit").toBeGreaterThan(0);
      const second = await runCli(["validate", "--help"], env);
      expect(second).toEqual(first);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  }, 30_000);
});
