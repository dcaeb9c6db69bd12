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

  describe("checks see values, not spelling: an escape or a fold gets the raw form's rule, at the scalar", () => {
    // Station A-2's name (line 31; the value, with its quote, starts at column 11). `raw`
    // writes the character out; `escaped` spells it with YAML's double-quoted escapes.
    const NAME = "name: دبستان دوم";
    const AT = { line: 31, col: 11 };
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJ0123456789";
    const cases: { name: string; raw: string; escaped: string; rules: string[] }[] = [
      {
        name: "\\u202E (right-to-left override)",
        raw: 'name: "دبستان \u202Eدوم"',
        escaped: 'name: "دبستان \\u202Eدوم"',
        rules: ["security.bidi-control"],
      },
      { name: "\\U0000202E", raw: 'name: "دبستان \u202Eدوم"', escaped: 'name: "دبستان \\U0000202Eدوم"', rules: ["security.bidi-control"] },
      { name: "\\x1b (escape)", raw: 'name: "دبستان \u001bدوم"', escaped: 'name: "دبستان \\x1bدوم"', rules: ["yaml.syntax"] },
      { name: "\\u009b (C1 CSI)", raw: 'name: "دبستان \u009bدوم"', escaped: 'name: "دبستان \\u009bدوم"', rules: ["yaml.syntax"] },
      { name: "\\x7f (delete)", raw: 'name: "دبستان \u007fدوم"', escaped: 'name: "دبستان \\x7fدوم"', rules: ["yaml.syntax"] },
      { name: "\\N (next line, printable in YAML 1.2)", raw: 'name: "دبستان \u0085دوم"', escaped: 'name: "دبستان \\Nدوم"', rules: [] },
      { name: "\\_ (no-break space)", raw: 'name: "دبستان\u00a0دوم"', escaped: 'name: "دبستان\\_دوم"', rules: [] },
      { name: "\\U0001F5F3 (ballot box)", raw: 'name: "دبستان \u{1F5F3}"', escaped: 'name: "دبستان \\U0001F5F3"', rules: [] },
      { name: "a private key with \\x20", raw: `name: "${KEY}"`, escaped: 'name: "-----BEGIN\\x20OPENSSH PRIVATE KEY-----"', rules: ["security.secret"] },
      {
        name: "a private key with \\_",
        raw: 'name: "-----BEGIN OPENSSH\u00a0PRIVATE KEY-----"',
        escaped: 'name: "-----BEGIN OPENSSH\\_PRIVATE KEY-----"',
        rules: ["security.secret"],
      },
      {
        name: "a GitHub token with \\x5f",
        raw: `name: "${TOKEN}"`,
        escaped: 'name: "ghp\\x5f0123456789abcdefghijABCDEFGHIJ0123456789"',
        rules: ["security.secret"],
      },
      {
        name: "a GitHub token split by an escaped line break",
        raw: `name: "${TOKEN}"`,
        escaped: 'name: "ghp_0123456789abcdefghij\\\n      ABCDEFGHIJ0123456789"',
        rules: ["security.secret"],
      },
    ];

    it.each(cases)("$name", async ({ raw, escaped, rules }) => {
      const plain = await findingsAfter([{ file: D, find: NAME, replace: raw }]);
      const spelt = await findingsAfter([{ file: D, find: NAME, replace: escaped }]);
      expect(plain.found.map((f) => f.rule)).toEqual(rules);
      expect(spelt.found).toEqual(rules.map((rule) => ({ rule, item: "-", file: D, ...AT })));
      for (const secret of [KEY, TOKEN, "ghp_0123", "0123456789abcdefghij"]) expect(JSON.stringify(spelt.result.findings)).not.toContain(secret);
    });

    it("a NUL or a lone surrogate spelt as an escape: yaml.syntax at the scalar (written out, the file is refused)", async () => {
      for (const escape of ["\\0", "\\uD800"]) {
        const { found } = await findingsAfter([{ file: D, find: NAME, replace: `name: "دبستان ${escape}دوم"` }]);
        expect(found).toEqual([{ rule: "yaml.syntax", item: "-", file: D, ...AT }]);
      }
    });

    it("a field name that is a secret, spelt with escapes, is the raw name's security.secret at the key", async () => {
      for (const key of ["password", '"pass\\x77ord"']) {
        const { found, result } = await findingsAfter([
          { file: D, find: "    siteOwner: mosque\n", replace: `    siteOwner: mosque\n    ${key}: hunter2-secret\n` },
        ]);
        expect(found).toEqual([{ rule: "security.secret", item: "A-2", file: D, line: 36, col: 5 }]);
        expect(JSON.stringify(result.findings)).not.toContain("hunter2");
      }
    });

    it("a terminal escape in a comment (which the parser skips): yaml.syntax at the character", async () => {
      const { found } = await findingsAfter([{ file: D, find: "stations:\n", replace: "stations:\n  # ok \u001b[2Ahidden\n" }]);
      expect(found).toEqual([{ rule: "yaml.syntax", item: "-", file: D, line: 7, col: 8 }]);
    });

    it("a character written out inside an escaped value is reported once, where it stands", async () => {
      const { found } = await findingsAfter([{ file: D, find: NAME, replace: 'name: "دبستان\\x20\u202Eدوم"' }]);
      expect(found).toEqual([{ rule: "security.bidi-control", item: "-", file: D, line: 31, col: 22 }]);
    });
  });
});
