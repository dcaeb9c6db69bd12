// Raw-text scans: secrets (never echoed) and bidirectional controls, comments included.
import { describe, expect, it } from "vitest";
import { findingsAfter } from "./fixture.ts";

const D = "inventory/districts/alpha.yaml";

describe("scanning the text", () => {
  it.each([
    { name: "a password in a comment", line: "  # password: hunter2-secret\n", col: 3, secret: "hunter2-secret" },
    { name: "a private key pasted in", line: "  # -----BEGIN OPENSSH PRIVATE KEY-----\n", col: 5, secret: "BEGIN OPENSSH" },
    { name: "a GitHub token", line: "  # ghp_0123456789abcdefghijABCDEFGHIJ0123456789\n", col: 5, secret: "ghp_0123" },
    { name: "a JSON web token", line: "  # eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc\n", col: 5, secret: "eyJhbGci" },
  ])("$name is a secret finding that never shows the secret", async ({ line, col, secret }) => {
    const { found, result } = await findingsAfter([{ file: D, find: "stations:\n", replace: `stations:\n${line}` }]);
    expect(found).toEqual([{ rule: "security.secret", item: "-", file: D, line: 7, col }]);
    expect(JSON.stringify(result.findings)).not.toContain(secret);
    expect(result.inventory).toBeUndefined();
  });

  it("refuses a right-to-left override in a name, at its position", async () => {
    const { found, result } = await findingsAfter([{ file: D, find: "name: دبستان دوم", replace: "name: دبستان \u202Eدوم" }]);
    expect(found).toEqual([{ rule: "security.bidi-control", item: "-", file: D, line: 31, col: 18 }]);
    expect(result.findings[0]?.message).toContain("U+202E");
  });

  it("accepts a zero-width non-joiner, which Persian needs", async () => {
    const { found } = await findingsAfter([{ file: D, find: "name: دبستان دوم", replace: "name: پیش\u200cدبستان دوم" }]);
    expect(found).toEqual([]);
  });
});
