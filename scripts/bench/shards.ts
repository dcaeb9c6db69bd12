// Synthetic shard results for the merge tests and bench:merge: the results a
// healthy campaign over an inventory would write (src/readiness/synthetic.ts),
// split by `--select` expressions as `amadegi check --select …` would split
// them, each file with its selection in the header. Nothing here probes.
import { closeSync, openSync, writeSync } from "node:fs";
import type { Inventory } from "../../src/model/index.ts";
import type { CampaignHeader } from "../../src/probe/results.ts";
import type { CampaignFooter } from "../../src/probe/results.ts";
import { emptyCounts } from "../../src/probe/summary.ts";
import { parseSelect, provincesOf } from "../../src/probe/targets.ts";
import type { ProbeResult } from "../../src/probe/types.ts";
import { type SyntheticOptions, syntheticResults } from "../../src/readiness/synthetic.ts";

export interface ShardSpec {
  readonly file: string;
  /** The shard's `--select`; absent: the whole campaign (an unsharded file). */
  readonly select?: string;
  readonly id?: string;
  /** Footer: false marks the shard invalid, "none" leaves the footer out (interrupted). */
  readonly valid?: boolean | "none";
  readonly from?: string;
}

/** Write one results file per spec, in one pass over the synthetic results; returns each file's result count. */
export function writeShards(inv: Inventory, specs: readonly ShardSpec[], options: SyntheticOptions): number[] {
  const provinces = provincesOf(inv);
  const started = new Date(options.now.getTime() - 120_000).toISOString();
  const shards = specs.map((spec, i) => {
    const id = spec.id ?? `shard-${i}-${options.now.getTime()}`;
    const header: CampaignHeader = {
      type: "campaign",
      version: 1,
      id,
      stack: options.stack ?? "rehearsal",
      from: spec.from ?? `runner-${i}`,
      startedAt: started,
      deadlineMs: 120_000,
      targets: 0,
      ...(spec.select === undefined ? {} : { select: spec.select }),
    };
    return {
      spec,
      id,
      header,
      filter: spec.select === undefined ? undefined : parseSelect(spec.select, provinces),
      lines: [] as string[],
      counts: emptyCounts(),
      n: 0,
    };
  });
  for (const r of syntheticResults(inv, options)) {
    for (const s of shards) {
      if (s.filter !== undefined && !s.filter({ ...r, params: {} })) continue;
      const result: ProbeResult = { ...r, from: s.header.from };
      s.lines.push(`${JSON.stringify({ type: "result", ...result })}\n`);
      s.counts[r.status]++;
      s.n++;
    }
  }
  for (const s of shards) {
    const fd = openSync(s.spec.file, "w");
    try {
      writeSync(fd, `${JSON.stringify({ ...s.header, targets: s.n })}\n`);
      for (let i = 0; i < s.lines.length; i += 4096) writeSync(fd, s.lines.slice(i, i + 4096).join(""));
      if (s.spec.valid !== "none") {
        const valid = s.spec.valid ?? true;
        const footer: CampaignFooter = {
          type: "end",
          id: s.id,
          finishedAt: options.now.toISOString(),
          valid,
          invalid: valid ? [] : ["the prober's event loop lagged 900 ms (starved)"],
          interrupted: false,
          counts: s.counts,
        };
        writeSync(fd, `${JSON.stringify(footer)}\n`);
      }
    } finally {
      closeSync(fd);
    }
  }
  return shards.map((s) => s.n);
}
