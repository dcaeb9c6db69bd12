// `amadegi validate --format github`: findings as GitHub Actions workflow
// commands, which the runner shows inline on the pull request's YAML lines.
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { githubAnnotation } from "../../../src/model/annotations.ts";
import { commandsIn, runnerLines } from "../../helpers/encoding.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
// Inside the repository (git-ignored .amadegi/), so paths print relative to it, as in CI.
const ROOT = join(REPO, ".amadegi", `test-validate-github-${process.pid}`);
afterAll(async () => rm(ROOT, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: REPO, env: process.env }, out, err };
}

describe("amadegi validate --format github", () => {
  it("prints the exact annotation for a known finding, then the summary, and exits 1", async () => {
    await mkdir(ROOT, { recursive: true });
    await cp(join(REPO, "test/fixtures/inventory/minimal"), ROOT, { recursive: true });
    const file = join(ROOT, "inventory/districts/alpha.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(
      file,
      text.replace("        operator: mci\n        pop: TW-MCI-1\n        address", "        operator: mcii\n        pop: TW-MCI-1\n        address"),
    );
    const { io, out } = capture();
    const rel = `.amadegi/test-validate-github-${process.pid}`;
    expect(await main(["validate", "--inventory", `${rel}/inventory`, "--today", "2026-11-22", "--format", "github"], io)).toBe(1);
    expect(out).toEqual([
      `::error file=${rel}/inventory/districts/alpha.yaml,line=25,col=19,title=reference.unknown (A-1)::` +
        `link A-1-M names operator "mcii" — no such operator (did you mean "mci"?) → use an operator id from operators.yaml`,
      `${rel}/inventory: 1 errors, 0 warnings, 0 waived`,
    ]);
  });

  it("escapes what would end a property or the message; warnings and waived findings are not errors", () => {
    const base = {
      rule: "lifecycle.overdue",
      file: "inventory/d,1.yaml",
      line: 3,
      col: 4,
      item: "X:1",
      message: "50% late\nsee",
      hint: "",
      waivable: true,
    } as const;
    expect(githubAnnotation({ ...base, severity: "warning" })).toBe(
      "::warning file=inventory/d%2C1.yaml,line=3,col=4,title=lifecycle.overdue (X%3A1)::50%25 late%0Asee",
    );
    expect(githubAnnotation({ ...base, severity: "warning", waived: "W-1" })).toMatch(/^::notice .*\[waived by W-1\]$/);
  });

  it("refuses an unknown format", async () => {
    const { io, err } = capture();
    expect(await main(["validate", "--format", "gitlab"], io)).toBe(2);
    expect(err.join("\n")).toContain("--format gitlab: expected text, json or github");
  });
});

describe("findings that quote attacks (issue 14)", () => {
  /** The minimal inventory with a district file whose name and contents carry what would end a property, the message or the line. */
  async function attacked(name: string): Promise<string> {
    const root = join(ROOT, name);
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await cp(join(REPO, "test/fixtures/inventory/minimal"), root, { recursive: true });
    const file = join(root, "inventory/districts/alpha.yaml");
    const text = (await readFile(file, "utf8"))
      .replace(
        "        operator: mci\n        pop: TW-MCI-1\n        address",
        '        operator: "m\\n::error::R%0A,title=x\\r::add-mask::x"\n        pop: TW-MCI-1\n        address',
      )
      .replace("    name: دبستان یکم", '    name: "# READY"\n    "::stop-commands::tok": 1');
    await writeFile(file, text);
    // A second district under a file name holding `,` `:` `%`: it ends up in the file property.
    await writeFile(join(root, "inventory/districts/b,1:x%0A.yaml"), text.replace("id: alpha", "id: beta").replaceAll("A-", "B-"));
    return `.amadegi/test-validate-github-${process.pid}/${name}/inventory`;
  }

  it("--format github: the runner reads exactly one annotation per finding, with its file, title and message whole", async () => {
    const inventory = await attacked("github");
    const json = capture();
    expect(await main(["validate", "--inventory", inventory, "--today", "2026-11-22", "--json"], json.io)).toBe(1);
    const findings = (
      JSON.parse(json.out.join("\n")) as { findings: { file: string; line: number; col: number; rule: string; item: string; message: string; hint: string }[] }
    ).findings;
    expect(findings.length).toBeGreaterThanOrEqual(4);
    const { io, out } = capture();
    expect(await main(["validate", "--inventory", inventory, "--today", "2026-11-22", "--format", "github"], io)).toBe(1);
    expect(commandsIn(out.join("\n"))).toEqual(
      findings.map((f) => ({
        form: "::",
        command: "error",
        properties: { file: f.file, line: String(f.line), col: String(f.col), title: `${f.rule} (${f.item})` },
        data: `${f.message}${f.hint === "" ? "" : ` → ${f.hint}`}`,
      })),
    );
    expect(findings.some((f) => f.message.includes('"m\n::error::R%0A,title=x\r::add-mask::x"'))).toBe(true);
    expect(findings.some((f) => f.file.endsWith("b,1:x%0A.yaml"))).toBe(true);
  });

  it("--format text: one line per finding, none the runner takes as a command", async () => {
    const inventory = await attacked("text");
    const { io, out, err } = capture();
    expect(await main(["validate", "--inventory", inventory, "--today", "2026-11-22"], io)).toBe(1);
    const lines = [...out, ...err].flatMap(runnerLines);
    expect(lines.length).toBe(out.length + err.length);
    expect(commandsIn([...out, ...err].join("\n"))).toEqual([]);
    expect(out.join("\n")).toContain('"m\\n::error::R%0A,title=x\\r::add-mask::x" is not a valid id');
  });
});
