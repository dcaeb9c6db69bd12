// A stack as `pulumi -s` names it (NAME, organization/NAME, organization/amadegi/NAME): the same
// stack file; another organization or project is refused, as Pulumi's file backend refuses it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseStackRef, PROJECT } from "../../src/model/stackfile.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

describe("parseStackRef", () => {
  it("reads NAME, organization/NAME and organization/amadegi/NAME as the stack NAME", () => {
    for (const text of ["rehearsal", "organization/rehearsal", "organization/amadegi/rehearsal"]) {
      expect(parseStackRef(text), text).toEqual({ ok: true, stack: "rehearsal" });
    }
  });

  it("refuses another project, naming the one in Pulumi.yaml", () => {
    const ref = parseStackRef("organization/website/rehearsal");
    expect(ref).toMatchObject({ ok: false, hint: "write organization/amadegi/rehearsal or rehearsal" });
    expect(ref.ok ? "" : ref.reason).toBe(
      'stack "organization/website/rehearsal" belongs to project "website", but this repository\'s project (Pulumi.yaml) is "amadegi"',
    );
  });

  it("refuses another organization (the file backend has one), four parts and a name a stack file cannot have", () => {
    for (const [text, reason] of [
      ["acme/rehearsal", /organization "acme" is not this backend's/],
      ["acme/amadegi/rehearsal", /organization "acme" is not this backend's/],
      ["organization/amadegi/x/rehearsal", /more than three parts/],
      ["organization/amadegi/", /"" is not a stack name/],
      ["../rehearsal", /organization "\.\." is not this backend's/],
      ["-rehearsal", /"-rehearsal" is not a stack name/],
      ["re hearsal", /"re hearsal" is not a stack name/],
    ] as const) {
      const ref = parseStackRef(text);
      expect(ref.ok, text).toBe(false);
      if (!ref.ok) expect(ref.reason, text).toMatch(reason);
    }
  });

  it("shows the caller's text escaped and clipped: no control character reaches a terminal, the hint names no bad stack", () => {
    const ref = parseStackRef(`acme/amadegi/re\u001b[31mhearsal${"x".repeat(300)}`);
    expect(ref.ok).toBe(false);
    if (ref.ok) return;
    expect(ref.reason.includes("\u001b")).toBe(false);
    expect(ref.reason).toContain("re\\u001b[31mhearsal");
    expect(ref.reason.length).toBeLessThan(400);
    expect(ref.hint).toBe("write organization/amadegi/NAME or NAME");
  });

  it("knows the project Pulumi.yaml names", () => {
    const project = load(readFileSync(join(repoRoot, "Pulumi.yaml"), "utf8")) as { name?: unknown };
    expect(project.name).toBe(PROJECT);
  });
});
