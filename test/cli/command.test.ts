// The Io every command gets (issue 14): no line it writes, to either stream,
// is a workflow command for the GitHub Actions runner, whatever a command put
// in it; only an annotation built by workflowCommand() passes as it is.
import { describe, expect, it } from "vitest";
import { guardedIo, type Io } from "../../src/cli/command.ts";
import { main } from "../../src/cli/main.ts";
import { INERT_PREFIX, workflowCommand } from "../../src/lib/encode.ts";
import { ATTACKS, commandsIn } from "../helpers/encoding.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: process.cwd(), env: process.env };
  return { io, out, err };
}

describe("guardedIo", () => {
  it("makes every line inert, on both streams, line breaks kept", () => {
    const { io, out, err } = capture();
    const guarded = guardedIo(io);
    const text = "first\n::error::READY\r  ::add-mask::x\r\n\u00a0::stop-commands::t\nsee ##[error]y";
    guarded.out(text);
    guarded.err(text);
    expect(commandsIn(text)).toHaveLength(4); // the runner would have run all four
    for (const written of [out, err]) {
      expect(commandsIn(written.join("\n"))).toEqual([]);
      expect(written.join("\n")).toBe(
        `first\n${INERT_PREFIX}::error::READY\r${INERT_PREFIX}  ::add-mask::x\r\n${INERT_PREFIX}\u00a0::stop-commands::t\nsee #\\u0023[error]y`,
      );
    }
  });

  it("writes an annotation built by workflowCommand as it is, and nothing else through `command`", () => {
    const { io, out } = capture();
    const line = workflowCommand("error", { file: "a.yaml", line: 1 }, "READY?\n::add-mask::x");
    guardedIo(io).command?.(line);
    expect(out).toEqual([line]);
    expect(commandsIn(out.join("\n"))).toEqual([{ form: "::", command: "error", properties: { file: "a.yaml", line: "1" }, data: "READY?\n::add-mask::x" }]);
  });

  it("keeps JSON output the same document", () => {
    const { io, out } = capture();
    const value = { reasons: ATTACKS };
    guardedIo(io).out(JSON.stringify(value, null, 2));
    expect(commandsIn(out.join("\n"))).toEqual([]);
    expect(JSON.parse(out.join("\n"))).toEqual(value);
  });
});

describe("main", () => {
  it("guards a command's output: an unknown command named by an attack is one inert line", async () => {
    for (const a of ATTACKS) {
      const { io, out, err } = capture();
      expect(await main([a], io)).toBe(2);
      expect(out).toEqual([]);
      expect(err).toHaveLength(1);
      expect(err[0]).not.toMatch(/[\r\n]/);
      expect(commandsIn(err.join("\n")), a).toEqual([]);
    }
  });
});

describe("main's errors", () => {
  it("print the message and the hint on a line each, a line break in what they quote shown", async () => {
    const { io, err } = capture();
    // The inventory directory is named by the attack: the error quotes it.
    expect(await main(["validate", "--inventory", "no-such\n::error::READY"], io)).toBe(2);
    expect(err.join("\n").split("\n")).toHaveLength(2);
    expect(err.join("\n")).toContain("no-such\\n::error::READY");
    expect(commandsIn(err.join("\n"))).toEqual([]);
  });
});
