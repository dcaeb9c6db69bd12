// One home for each idea (issue 15): the ideas several layers need, each with the one file that
// holds it and what it exports, and the spelling its old twins had. A twin written again anywhere
// else in src/ fails here, naming the idea and its home.
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

interface Home {
  readonly idea: string;
  readonly home: string;
  readonly exports: readonly string[];
  /** What a twin of it looks like. */
  readonly twin: RegExp;
  /** Files that may match `twin` besides the home, each with why. */
  readonly besides?: Readonly<Record<string, string>>;
}

export const HOMES: readonly Home[] = [
  {
    idea: "CIDR blocks and their merging",
    home: "src/model/net.ts",
    exports: ["aggregate", "exactCover", "formatBlock", "mask", "cidrContains"],
    twin: /function (aggregate|exactCover|mask|contains)\(|0xffffffff <</,
  },
  {
    idea: "midnight in the election's time zone",
    home: "src/model/dates.ts",
    exports: ["midnightIn"],
    twin: /formatToParts\(|function (startOfDay|endOfDay)\(/,
  },
  {
    idea: "an ISO day plus days",
    home: "src/model/dates.ts",
    exports: ["addDays"],
    twin: /\* 86_400_000\)\.toISOString\(\)\.slice\(0, 10\)|function (addDays|nextDay)\(/,
  },
  { idea: "an instant read from a file", home: "src/model/dates.ts", exports: ["parseInstant"], twin: /function parseInstant\(/ },
  { idea: "durations", home: "src/lib/duration.ts", exports: ["parseDuration", "DURATION_UNITS"], twin: /\(ms\|s\|m|ms: 1, s: 1000/ },
  { idea: "a worker pool", home: "src/lib/pool.ts", exports: ["forEachLimited"], twin: /Array\.from\(\{ length: [^}]*\}, worker\)|const worker = async/ },
  {
    idea: "which links count, a pop's chain, a blind spot, a diverse pair",
    home: "src/model/links.ts",
    exports: ["popChain", "isBlindSpot", "countingLinks", "noDiversePair"],
    twin: /function (popChain|isBlindSpot|counting|hasDiversePair)\(|\?\.backhaul\) [a-z]+\.push/,
    besides: { "src/readiness/criteria.ts": "the criterion's own yes/no over the model's noDiversePair" },
  },
  {
    idea: "the network-safety guard",
    home: "src/model/allow.ts",
    exports: ["parseAllow", "checkAllowed", "notAllowedError", "assertAllowed"],
    twin: /cidrContains\(/,
    besides: {
      "src/model/net.ts": "defines it",
      "src/model/policy/security.ts": "the committee's service ranges, a model rule",
      "src/rehearsal/plan.ts": "the rehearsal's own plumbing range, not a stack's allow-list",
    },
  },
  { idea: "the waiver lookup", home: "src/model/waivers.ts", exports: ["waiverLookup"], twin: /function findWaiver\(/ },
  {
    idea: "is a campaign fit to judge",
    home: "src/readiness/fitness.ts",
    exports: ["whyUnfit"],
    twin: /has no campaign header|was interrupted, the results are partial/,
    besides: {
      "src/readiness/gate.ts": "the gate's words for whyUnfit",
      "src/readiness/drift/run.ts": "drift's words for whyUnfit",
      "src/probe/merge.ts": "merge refuses a shard that is no results file (the probe layer, below readiness)",
      "src/probe/openmetrics.ts": "export refuses a file that is no results file",
    },
  },
  {
    idea: "where state lives",
    home: "src/lib/state.ts",
    exports: ["statePaths", "stateDir", "newestResults"],
    twin: /["'`]\.amadegi\/|"\.amadegi", "|function (newestResults|latestResults)\(/,
    besides: { "src/model/stackfile.ts": "refuses an old-style `.amadegi/` path, naming it" },
  },
  {
    idea: "encoding for each sink",
    home: "src/lib/encode.ts",
    exports: ["logText", "markdownText", "xmlText", "openMetricsLabelValue", "workflowCommand"],
    twin: /replace\(\/\[&<>"'\]\/g/,
    besides: { "src/readiness/report/markup.ts": "the HTML pages' escaping, the html tag's one escaper" },
  },
  {
    idea: "the provisioned record and its hashes",
    home: "src/model/render/provisioned.ts",
    exports: ["provisionedRecord", "contentHash"],
    twin: /stationsHash: [a-zA-Z]+\(|function sha256\(/,
  },
  { idea: "how to reach a server (pin or inventory)", home: "src/model/pins.ts", exports: ["serverReach"], twin: /pin\?\.(port|user) \?\? [a-z]+\.ssh\./ },
  { idea: "tables keyed by data", home: "src/lib/records.ts", exports: ["dataRecord", "ownEntry"], twin: /Object\.create\(null\)/ },
];

async function sources(): Promise<Map<string, string>> {
  const dir = join(repoRoot, "src");
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = new Map<string, string>();
  for (const e of entries.filter((x) => x.isFile() && /\.[jt]s$/.test(x.name))) {
    const path = join(e.parentPath, e.name);
    files.set(relative(repoRoot, path), await readFile(path, "utf8"));
  }
  return files;
}

/** Where each idea has a twin: `idea: file` for every file besides its home (and the allowed) that matches. */
export function twins(files: ReadonlyMap<string, string>, homes: readonly Home[] = HOMES): string[] {
  const found: string[] = [];
  for (const h of homes) {
    for (const [file, text] of files) {
      if (file === h.home || h.besides?.[file] !== undefined) continue;
      if (h.twin.test(text)) found.push(`${h.idea}: ${file} (its home is ${h.home})`);
    }
  }
  return found;
}

describe("one home for each idea", () => {
  it.each(HOMES.map((h) => [h.idea, h] as const))("%s lives in its home, which exports it", async (_idea, h) => {
    const text = await readFile(join(repoRoot, h.home), "utf8");
    for (const name of h.exports) expect(text, `${h.home} exports ${name}`).toMatch(new RegExp(`export (async )?(function|const|interface|type) ${name}\\b`));
  });

  it("has no twin anywhere else in src/", async () => {
    expect(twins(await sources())).toEqual([]);
  });

  it("finds a twin written again (so a pass means something)", () => {
    const files = new Map([
      ["src/probe/new.ts", "const worker = async () => {};\nawait Promise.all(Array.from({ length: 4 }, worker));"],
      ["src/readiness/x.ts", 'const dir = join(".amadegi", "results");'],
      ["src/model/net.ts", "export function mask(bits) {}"],
    ]);
    expect(twins(files)).toEqual([
      "a worker pool: src/probe/new.ts (its home is src/lib/pool.ts)",
      "where state lives: src/readiness/x.ts (its home is src/lib/state.ts)",
    ]);
  });
});
