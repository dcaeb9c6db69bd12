import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { openMetricsLabelValue } from "../lib/encode.ts";
import { temporarySibling } from "../lib/fs.ts";
import { ProbeError } from "../lib/errors.ts";
import { type ReadSummary, readResults, type ResultRecord } from "./results.ts";
import { STATUSES } from "./types.ts";

/**
 * A campaign as OpenMetrics text for node_exporter's textfile collector (and
 * `promtool check metrics`): gauges only, which both the OpenMetrics and the
 * classic text parsers take, ending with `# EOF`. A family's samples must be
 * contiguous, so the results file is streamed once per family instead of
 * being held in memory. Written to a temporary file and renamed, so the
 * collector never reads half a file. Label values are ids from the inventory
 * and the results file: openMetricsLabelValue escapes them as the spec says.
 */

const IDS = ["check", "kind", "station", "link", "server", "district", "operator", "medium"] as const;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly unit?: string;
  readonly sample: (r: ResultRecord) => readonly [extra: string, value: number][];
}

const FAMILIES: readonly Family[] = [
  {
    name: "amadegi_probe_up",
    help: "1 when the target was up or degraded in the campaign, else 0.",
    sample: (r) => [["", r.status === "up" || r.status === "degraded" ? 1 : 0]],
  },
  {
    name: "amadegi_probe_status",
    help: "The target's status in the campaign: 1 for its status, 0 for the others.",
    sample: (r) => STATUSES.map((s) => [`status="${s}"`, r.status === s ? 1 : 0] as const),
  },
  { name: "amadegi_probe_duration_seconds", unit: "seconds", help: "Time the last probe attempt took.", sample: (r) => [["", r.timings.total / 1000]] },
  { name: "amadegi_probe_attempts", help: "Probe attempts made (1 + retries).", sample: (r) => [["", r.attempts]] },
];

function labelsOf(r: ResultRecord): string {
  const parts: string[] = [];
  for (const k of IDS) {
    const v = r[k];
    if (v !== undefined) parts.push(`${k}="${openMetricsLabelValue(v)}"`);
  }
  return parts.join(",");
}

export async function writeOpenMetrics(results: string, out: string): Promise<{ results: number; summary: ReadSummary }> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = temporarySibling(out);
  const fd = openSync(tmp, "w", 0o644);
  let open = true;
  let buffer: string[] = [];
  const flush = () => {
    if (buffer.length === 0) return;
    writeSync(fd, buffer.join(""));
    buffer = [];
  };
  const line = (text: string) => {
    buffer.push(text);
    if (buffer.length >= 8192) flush();
  };
  try {
    let summary: ReadSummary | undefined;
    for (const family of FAMILIES) {
      line(`# TYPE ${family.name} gauge\n`);
      if (family.unit !== undefined) line(`# UNIT ${family.name} ${family.unit}\n`);
      line(`# HELP ${family.name} ${family.help}\n`);
      summary = await readResults(results, (r) => {
        const labels = labelsOf(r);
        for (const [extra, value] of family.sample(r)) line(`${family.name}{${labels}${extra === "" ? "" : `,${extra}`}} ${value}\n`);
      });
    }
    if (summary?.header === undefined)
      throw new ProbeError(`${results} has no campaign header: not a results file of \`amadegi check\``, {
        file: results,
        hint: "pass a results file (JSON lines) with --results",
      });
    const { header, footer } = summary;
    // The stack only: a label per run (its id) would make new series at every campaign, without bound in
    // Prometheus. Which run it was is in the timestamps below.
    const campaign = `stack="${openMetricsLabelValue(header.stack)}"`;
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    await readResults(results, (r) => {
      counts[r.status] = (counts[r.status] ?? 0) + 1;
    });
    line("# TYPE amadegi_campaign_results gauge\n# HELP amadegi_campaign_results Results per status in the campaign.\n");
    for (const s of STATUSES) line(`amadegi_campaign_results{${campaign},status="${s}"} ${counts[s] ?? 0}\n`);
    line(
      `# TYPE amadegi_campaign_valid gauge\n` +
        `# HELP amadegi_campaign_valid 1 when the campaign finished and its prober was not starved, else 0.\n` +
        `amadegi_campaign_valid{${campaign}} ${footer?.valid === true ? 1 : 0}\n`,
    );
    const finished = Date.parse(footer?.finishedAt ?? header.startedAt) / 1000;
    line(
      `# TYPE amadegi_campaign_started_timestamp_seconds gauge\n` +
        `# UNIT amadegi_campaign_started_timestamp_seconds seconds\n` +
        `# HELP amadegi_campaign_started_timestamp_seconds When the campaign started: which run the samples are of.\n` +
        `amadegi_campaign_started_timestamp_seconds{${campaign}} ${Date.parse(header.startedAt) / 1000}\n`,
    );
    line(
      `# TYPE amadegi_campaign_finished_timestamp_seconds gauge\n` +
        `# UNIT amadegi_campaign_finished_timestamp_seconds seconds\n` +
        `# HELP amadegi_campaign_finished_timestamp_seconds When the campaign finished (or started, if it never did).\n` +
        `amadegi_campaign_finished_timestamp_seconds{${campaign}} ${finished}\n`,
    );
    line("# EOF\n");
    flush();
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    await rename(tmp, out);
    return { results: summary.results, summary };
  } catch (error) {
    if (open) closeSync(fd);
    await rm(tmp, { force: true });
    throw error;
  }
}
