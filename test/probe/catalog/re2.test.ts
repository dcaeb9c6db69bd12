// A catalog pattern as blackbox_exporter's RE2 reads it, checked by the real exporter's --config.check.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { re2Pattern } from "../../../src/probe/catalog/re2.ts";
import { run, which } from "../../../src/toolchain/inspect.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-re2-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const translated = (pattern: string) => {
  const r = re2Pattern(pattern);
  if (!r.ok) throw new Error(`${pattern}: ${r.why}`);
  return r.pattern;
};

describe("re2Pattern", () => {
  it("keeps what both syntaxes read alike, and translates what RE2 writes otherwise", () => {
    expect(translated("^ok\\s+[a-z]{2,3}$")).toBe("^ok\\s+[a-z]{2,3}$");
    expect(translated("(?<state>ready|up)")).toBe("(?P<state>ready|up)");
    expect(translated("caf\\u00e9")).toBe("caf\\x{00e9}");
    expect(translated("[\\u0041-\\u005a]+")).toBe("[\\x{0041}-\\x{005a}]+");
    expect(translated("a\\0b")).toBe("a\\x00b");
    // A group that only looks like a lookaround inside a class, or escaped, is text.
    expect(translated("[(?=]\\(\\?=")).toBe("[(?=]\\(\\?=");
    // Both match what the catalog means.
    expect(new RegExp("(?<state>ready|up)").test("up")).toBe(true);
  });

  it.each([
    ["^ok(?=!)", "a lookahead (?=…)"],
    ["^ok(?!ay)", "a negative lookahead (?!…)"],
    ["(?<=x)y", "a lookbehind (?<=…)"],
    ["(?<!x)y", "a negative lookbehind (?<!…)"],
    ["(a)\\1", "a backreference \\1"],
    ["(?<n>a)\\k<n>", "a named backreference \\k<…>"],
    ["\\cJ", "a control escape \\c"],
    ["x[]", "an empty class []"],
    ["[^]", "the class [^] (write [\\s\\S])"],
  ])("refuses %s: %s", (pattern, why) => {
    expect(re2Pattern(pattern)).toEqual({ ok: false, why });
  });

  it("gives blackbox_exporter patterns it accepts, where the untranslated ones are refused", async () => {
    const exporter = await which("prometheus-blackbox-exporter");
    expect(exporter, "prometheus-blackbox-exporter is installed by setup").toBeDefined();
    const check = async (patterns: readonly string[]) => {
      const file = join(dir, "blackbox.yml");
      const list = patterns.map((p) => `        - ${JSON.stringify(p)}\n`).join("");
      await writeFile(file, `modules:\n  m:\n    prober: http\n    http:\n      fail_if_body_not_matches_regexp:\n${list}`);
      return run(exporter ?? "", [`--config.file=${file}`, "--config.check"]);
    };
    const ok = await check(["caf\\u00e9", "a\\0b"].map(translated));
    expect(ok.stderr).toContain("Config file is ok");
    expect(ok.code).toBe(0);
    expect((await check(["caf\\u00e9"])).code).not.toBe(0);
    expect((await check(["a(?=b)"])).code).not.toBe(0);
  });
});
