import { logText } from "../../lib/encode.ts";
import type { ExitCode } from "../../lib/exit.ts";
import { STATE_HELP } from "../../lib/state.ts";
import { formatBoth } from "../../model/index.ts";
import { type GateResult, gateVerdict } from "../../readiness/gate.ts";
import { defineCommand } from "../command.ts";
import { gateOptions, judgeOptions } from "../shared.ts";

/** How many offenders per criterion the text output lists (all of them are in --json and the report). */
const WORST = 10;

const pct = (n: number): string => `${n.toFixed(2)}%`;

/**
 * The verdict for a person: what to chase, whose it is. Names, ids, reasons
 * and details come from the inventory and the results: each line is encoded
 * whole (logText), so none can break into two or start a workflow command.
 */
export function formatGate(r: GateResult): string[] {
  const out: string[] = [];
  const m = r.milestone;
  out.push(`milestone ${m.id}${m.name === undefined ? "" : ` «${m.name}»`} due ${formatBoth(m.due)}, judged on ${formatBoth(r.date)} (${m.where})`);
  if (r.results !== undefined) {
    const res = r.results;
    const c = res.counts;
    out.push(
      `results: ${res.file} (campaign ${res.campaign ?? "?"}, ` +
        `${res.ageHours === undefined ? "age unknown" : `${res.ageHours.toFixed(1)} h old`}, sha256 ${res.sha256.slice(0, 12)}): ` +
        `${res.total} results, ${c.up} up, ${c.degraded} degraded, ${c.down} down, ${c.unreachable} unreachable, ${c.unknown} unknown`,
    );
  } else out.push("results: none");
  out.push(
    `inventory: ${r.inventory.dir} at ${r.inventory.commit?.slice(0, 12) ?? "no commit"}${r.inventory.dirty ? " (uncommitted changes)" : ""}: ` +
      `${r.inventory.stations} stations, ${r.inventory.links} links, ${r.inventory.servers} servers`,
  );
  for (const c of r.criteria) {
    const mark = c.outcome === "pass" ? "✓" : c.outcome === "fail" ? "✗" : "?";
    if (c.outcome === "cannot-judge") {
      out.push(`  ${mark} ${c.id}: cannot judge: ${c.reason ?? ""}`);
      continue;
    }
    const waived = c.waived.length > 0 ? ` (${pct(c.withWaivers)} with ${c.waived.length} waived)` : "";
    const owners = Object.entries(c.byOwner)
      .sort((a, b) => b[1] - a[1])
      .map(([o, n]) => `${o} ${n}`)
      .join(", ");
    out.push(
      `  ${mark} ${c.id}: ${pct(c.measured)}${waived} ${c.outcome === "pass" ? "≥" : "<"} ${c.threshold}% — ${c.good} of ${c.total}` +
        `${c.note === undefined ? "" : ` ${c.note}`}` +
        `${owners === "" ? "" : `; not ready by owner: ${owners}`}${c.reason === undefined ? "" : `; ${c.reason}`}`,
    );
    if (c.outcome === "fail") {
      for (const o of c.offenders.slice(0, WORST))
        out.push(`      ${o.id}  owner ${o.owner}${o.district === undefined ? "" : `  [${o.district}]`}  ${o.reason}`);
      if (c.offenders.length > WORST) out.push(`      … ${c.offenders.length - WORST} more (amadegi gate --json, or amadegi report)`);
    }
    const byWaiver = new Map<string, { n: number; by: string; until: string }>();
    for (const w of c.waived) byWaiver.set(w.waiver.id, { n: (byWaiver.get(w.waiver.id)?.n ?? 0) + 1, by: w.waiver.approvedBy, until: w.waiver.until });
    for (const [id, w] of byWaiver) out.push(`      waived by ${id} (approved by ${w.by}, until ${formatBoth(w.until)}): ${w.n}`);
  }
  if (r.signoff !== undefined) {
    const s = r.signoff;
    out.push(
      `sign-off: ${s.members.length} of ${s.required} required approvals (committee of ${s.of})` +
        `${s.members.length > 0 ? `: ${s.members.join(", ")}` : ""}${s.reason === undefined ? "" : ` — ${s.reason}`}`,
    );
    for (const check of s.checks.filter((x) => x.status !== "valid")) out.push(`  refused ${check.source}: ${check.status}: ${check.detail}`);
  }
  if (r.changes !== undefined) {
    out.push(`since ${r.changes.previous ?? "no earlier valid campaign"}: ${r.changes.newlyFailing} newly failing, ${r.changes.recovered} recovered`);
    for (const line of r.changes.sample.slice(0, 5)) out.push(`  ${line}`);
  }
  if (r.expiredWaivers.length > 0)
    out.push(`expired waivers: ${r.expiredWaivers.map((w) => `${w.id} (${w.item}, until ${formatBoth(w.until)}, approved by ${w.approvedBy})`).join("; ")}`);
  if (r.verdict === "ready") out.push(`READY: milestone ${m.id} (exit 0)`);
  else if (r.verdict === "not-ready") {
    const unmet: string[] = r.criteria.filter((c) => c.outcome === "fail").map((c) => c.id);
    if (r.signoff !== undefined && !r.signoff.met) unmet.push("sign-off");
    out.push(`NOT READY: milestone ${m.id}: ${unmet.join(", ")} (exit 1)`);
  } else {
    out.push(`CANNOT JUDGE milestone ${m.id} (exit 2):`);
    for (const reason of r.reasons) out.push(`  - ${reason}`);
  }
  return out.map(logText);
}

export const gateCommand = defineCommand({
  name: "gate",
  synopsis: "amadegi gate [--inventory DIR] [--milestone ID | --date D] [--results FILE] [--approvals DIR] [--json]",
  options: { ...judgeOptions, json: { type: "boolean", description: "print the verdict as JSON" } },
  after: [
    `${STATE_HELP}; the gate also reads the results' stack's drift report, <state>/drift/<stack>.json.`,
    "",
    "Exit codes: 0 ready; 1 not ready (each unmet criterion, its measured value, threshold, worst offenders and owners);",
    "2 could not judge (no, stale, partial or invalid results, too many unknown, an inventory that does not load,",
    "a deciding file that differs from the commit judged, or a committee file that differs from main's).",
  ],
  async run(args, io): Promise<ExitCode> {
    const result = await gateVerdict(await gateOptions(args.values, io));
    if (args.values.json === true) io.out(JSON.stringify(result, null, 2));
    else for (const line of formatGate(result)) io.out(line);
    return result.exitCode;
  },
});
