import { spawn } from "node:child_process";
import { once } from "node:events";
import { getPriority } from "node:os";
import { describe, expect, it } from "vitest";
import { renice } from "../../src/probe/renice.ts";

describe("renice", () => {
  it("lowers a started tool's priority, and never raises it again", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const pid = child.pid as number;
      const own = getPriority(pid);
      expect(renice(pid, own + 5)).toBe(true);
      expect(getPriority(pid)).toBe(own + 5);
      // A lower niceness asked later keeps the higher one.
      expect(renice(pid, own + 2)).toBe(true);
      expect(getPriority(pid)).toBe(own + 5);
    } finally {
      child.kill("SIGKILL");
      await once(child, "close");
    }
  });

  it("says it did not take for a tool already gone, without throwing: the tool's close reports it", async () => {
    const child = spawn("true", [], { stdio: "ignore" });
    await once(child, "close");
    expect(renice(child.pid, 10)).toBe(false);
  });

  it("does nothing without a process or a niceness", () => {
    expect(renice(undefined, 10)).toBe(false);
    expect(renice(process.pid, undefined)).toBe(false);
  });
});
