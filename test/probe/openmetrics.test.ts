import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { loadInventory } from "../../src/model/index.ts";
import { openMetricsLabelValue } from "../../src/lib/encode.ts";
import { writeSyntheticResults } from "../../src/readiness/synthetic.ts";
import { run, which } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { parseLabels } from "../helpers/encoding.ts";

let dir: string;
const fail = (): never => {
  throw new Error("fixture does not load");
};
let results: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-openmetrics-"));
  const loaded = await loadInventory(join(repoRoot, "test/probe/fixtures/inventory"));
  if (loaded.inventory === undefined) throw new Error("fixture");
  results = join(dir, "results.jsonl");
  // One link down with a detail full of characters a label must escape.
  writeSyntheticResults(results, loaded.inventory, {
    now: new Date("2027-02-20T08:00:00Z"),
    id: "c-1",
    edit: (r) => (r.key === "link-icmp/PKD-0002/PKD-0002-M" ? { ...r, status: "down", failure: "timeout", detail: 'a "quoted"\\ detail' } : r),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("export openmetrics", () => {
  it("writes gauges per target and per campaign that promtool check metrics accepts", async () => {
    const out = join(dir, "textfile", "amadegi.prom");
    const said: string[] = [];
    expect(
      await main(["export", "openmetrics", "--results", results, "--out", out], {
        out: (t) => said.push(t),
        err: (t) => said.push(t),
        cwd: repoRoot,
        env: process.env,
      }),
    ).toBe(0);
    const text = await readFile(out, "utf8");
    expect(text).toContain(
      'amadegi_probe_up{check="link-icmp",kind="icmp",station="PKD-0002",link="PKD-0002-M",district="pakdasht",operator="mci",medium="mobile"} 0\n',
    );
    expect(text).toContain(
      'amadegi_probe_status{check="link-icmp",kind="icmp",station="PKD-0002",link="PKD-0002-M",' +
        'district="pakdasht",operator="mci",medium="mobile",status="down"} 1\n',
    );
    expect(text).toContain(
      'amadegi_probe_up{check="link-icmp",kind="icmp",station="PKD-0001",link="PKD-0001-F",district="pakdasht",operator="tci",medium="fiber"} 1\n',
    );
    expect(text).toContain('amadegi_campaign_results{stack="rehearsal",status="down"} 1\n');
    expect(text).toContain('amadegi_campaign_valid{stack="rehearsal"} 1\n');
    // No label names the run: a campaign's id would make new series at every run. Its start time says which run it was.
    expect(text).not.toContain("c-1");
    // The synthetic campaign ran for two minutes up to its time.
    expect(text).toContain(`amadegi_campaign_started_timestamp_seconds{stack="rehearsal"} ${Date.parse("2027-02-20T07:58:00Z") / 1000}\n`);
    expect(text.endsWith("# EOF\n")).toBe(true);
    // Each family's samples are contiguous, after its metadata.
    const families = text
      .split("\n")
      .filter((l) => l.startsWith("# TYPE "))
      .map((l) => l.split(" ")[2]);
    expect(families).toEqual([
      "amadegi_probe_up",
      "amadegi_probe_status",
      "amadegi_probe_duration_seconds",
      "amadegi_probe_attempts",
      "amadegi_campaign_results",
      "amadegi_campaign_valid",
      "amadegi_campaign_started_timestamp_seconds",
      "amadegi_campaign_finished_timestamp_seconds",
    ]);
    const promtool = await which("promtool");
    expect(promtool, "promtool is installed by setup").toBeDefined();
    const checked = await run(promtool ?? "", ["check", "metrics"], { input: text });
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    // promtool does reject a broken exposition.
    expect((await run(promtool ?? "", ["check", "metrics"], { input: text.replace(/ 1\n/, " one\n") })).code).not.toBe(0);
  });

  it("writes ids holding quotes, backslashes and line breaks so that the labels parse back to them (spec grammar and promtool)", async () => {
    // The results file is data: its ids reach the labels as they are.
    const odd = { station: 'PKD "0002"', district: "pak\\dasht\\", operator: "m\nci", medium: '\\"\n' };
    const file = join(dir, "odd.jsonl");
    writeSyntheticResults(file, (await loadInventory(join(repoRoot, "test/probe/fixtures/inventory"))).inventory ?? fail(), {
      now: new Date("2027-02-20T08:00:00Z"),
      id: 'c "1"\\\n',
      edit: (r) => (r.key === "link-icmp/PKD-0002/PKD-0002-M" ? { ...r, ...odd } : r),
    });
    const out = join(dir, "odd.prom");
    expect(await main(["export", "openmetrics", "--results", file, "--out", out], { out: () => {}, err: () => {}, cwd: repoRoot, env: process.env })).toBe(0);
    const text = await readFile(out, "utf8");
    const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    // Every line is a sample or metadata: no value broke out of its line.
    expect(samples.every((l) => /^amadegi_[a-z_]+\{/.test(l))).toBe(true);
    const up = samples
      .filter((l) => l.startsWith("amadegi_probe_up{"))
      .map(parseLabels)
      .find((l) => l.link === "PKD-0002-M");
    expect(up).toMatchObject({ check: "link-icmp", ...odd });
    const valid = samples.find((l) => l.startsWith("amadegi_campaign_valid{"));
    expect(parseLabels(valid ?? "")).toEqual({ stack: "rehearsal" });
    const promtool = await which("promtool");
    expect(promtool, "promtool is installed by setup").toBeDefined();
    const checked = await run(promtool ?? "", ["check", "metrics"], { input: text });
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    // Unescaped, the same exposition is refused by the grammar (the check can fail).
    expect(() => parseLabels(`x{station="${odd.station}"} 1`)).toThrow();
  });

  it("escapes label values; refuses a file that is not a campaign, leaving no file behind", async () => {
    expect(openMetricsLabelValue('a "b"\\c\nd')).toBe('a \\"b\\"\\\\c\\nd');
    const junk = join(dir, "junk.jsonl");
    await writeFile(junk, '{"hello":1}\n');
    const err: string[] = [];
    const out = join(dir, "junk.prom");
    expect(
      await main(["export", "openmetrics", "--results", junk, "--out", out], { out: () => {}, err: (t) => err.push(t), cwd: repoRoot, env: process.env }),
    ).toBe(2);
    expect(err.join("\n")).toContain("has no campaign header");
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });
});
