import { markdownCode, markdownText } from "../../lib/encode.ts";
import type { GateResult } from "../gate.ts";
import type { ReportData, Tally } from "./data.ts";
import { driftMarkdown, type FoundDrift } from "./drift.ts";

/**
 * summary.md for a CI job summary: the verdict, each criterion, the worst
 * offenders and the worst districts, owners and operators, bounded so a
 * national run stays far under GitHub's 1 MiB limit (details are in the
 * artifacts: report.html, results.json, junit.xml). Every piece of data (the
 * election's and milestone's names, ids, owners, reasons, results' details)
 * goes through markdownText or markdownCode: GitHub renders this file, and a
 * name must not become a "✅ READY" heading, a link or an @mention. Raw HTML
 * here (`<details>`) holds only the registry's criterion ids and numbers.
 */
const WORST = 10;
const GROUPS = 15;

const text = markdownText;
/** An id in a table cell. */
const code = (value: string): string => markdownCode(value, "cell");
const pct = (n: number): string => `${n.toFixed(2)}%`;

function tallies(title: string, rows: readonly Tally[]): string[] {
  if (rows.length === 0) return [];
  const out = [`### ${title}`, "", "| | total | ready | share |", "| --- | ---: | ---: | ---: |"];
  for (const t of rows.slice(0, GROUPS))
    out.push(
      `| ${text(t.id === t.name ? t.id : `${t.name} (${t.id})`)} | ${t.total} | ${t.ready} | ` +
        `${t.total === 0 ? "—" : pct(Math.floor((10_000 * t.ready) / t.total) / 100)} |`,
    );
  if (rows.length > GROUPS) out.push(`| … ${rows.length - GROUPS} more | | | |`);
  out.push("");
  return out;
}

export function renderMarkdown(r: GateResult, data: ReportData, drift?: FoundDrift): string {
  const icon = r.verdict === "ready" ? "✅" : r.verdict === "not-ready" ? "❌" : "⚠️";
  const m = r.milestone;
  const out: string[] = [
    `## ${icon} ${text(m.id)}: ${r.verdict === "ready" ? "READY" : r.verdict === "not-ready" ? "NOT READY" : "CANNOT JUDGE"} (exit ${r.exitCode})`,
    "",
    `${text(r.election.name)} — milestone ${text(m.id)}${m.name === undefined ? "" : ` «${text(m.name)}»`}, due ${text(m.due)}, judged on ${text(r.date)}.`,
    "",
  ];
  if (r.reasons.length > 0) {
    out.push("**Could not judge:**", "", ...r.reasons.map((x) => `- ${text(x)}`), "");
  }
  const res = r.results;
  out.push(
    res === undefined
      ? "Results: none."
      : `Results: ${markdownCode(res.file)} (campaign ${markdownCode(res.campaign ?? "?")}, ${res.ageHours?.toFixed(1) ?? "?"} h old, ` +
          `sha256 ${markdownCode(res.sha256.slice(0, 12))}): ${res.total} results — ${res.counts.up} up, ${res.counts.degraded} degraded, ` +
          `${res.counts.down} down, ${res.counts.unreachable} unreachable, ${res.counts.unknown} unknown.`,
    "",
  );
  out.push(
    `Stations: ${data.stationCounts.ready} ready, ${data.stationCounts.partial} on one path, ` +
      `${data.stationCounts.down} down, ${data.stationCounts.unknown} unknown.`,
    "",
  );
  out.push("| criterion | measured | threshold | outcome | not ready by owner |", "| --- | ---: | ---: | --- | --- |");
  for (const c of r.criteria) {
    const owners = Object.entries(c.byOwner)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([o, n]) => `${text(o)} ${n}`)
      .join(", ");
    const measured = c.outcome === "cannot-judge" ? "—" : `${pct(c.measured)}${c.waived.length > 0 ? ` (+${c.waived.length} waived)` : ""}`;
    out.push(
      `| ${code(c.id)} | ${measured} | ${c.threshold}% | ` +
        `${c.outcome === "pass" ? "✅ met" : c.outcome === "fail" ? "❌ not met" : "⚠️ cannot judge"} | ` +
        `${owners === "" ? text(c.reason ?? "") : owners} |`,
    );
  }
  out.push("");
  if (r.signoff !== undefined) {
    out.push(
      `Sign-off: ${r.signoff.members.length} of ${r.signoff.required} required approvals` +
        `${r.signoff.members.length > 0 ? ` (${r.signoff.members.map(text).join(", ")})` : ""}` +
        `${r.signoff.reason === undefined ? "" : ` — ${text(r.signoff.reason)}`}.`,
      "",
    );
  }
  for (const c of r.criteria.filter((x) => x.offenders.length > 0)) {
    out.push(
      `<details><summary><code>${c.id}</code>: ${c.offenders.length} not ready (worst ${Math.min(WORST, c.offenders.length)})</summary>`,
      "",
      "| item | owner | district | what |",
      "| --- | --- | --- | --- |",
    );
    for (const o of c.offenders.slice(0, WORST)) out.push(`| ${code(o.id)} | ${text(o.owner)} | ${text(o.district ?? "")} | ${text(o.reason)} |`);
    out.push("", "</details>", "");
  }
  if (drift !== undefined) out.push(...driftMarkdown(drift));
  out.push(...tallies("Worst districts", data.byDistrict), ...tallies("Owners", data.byOwner), ...tallies("Operators", data.byOperator));
  if (r.changes !== undefined)
    out.push(
      `Since ${text(r.changes.previous ?? "no earlier valid campaign")}: ${r.changes.newlyFailing} newly failing, ${r.changes.recovered} recovered.`,
      "",
    );
  if (r.expiredWaivers.length > 0) out.push(`Expired waivers: ${r.expiredWaivers.map((w) => text(`${w.id} (${w.item}, until ${w.until})`)).join(", ")}.`, "");
  out.push("Details: `report.html`, `results.json`, `junit.xml`.", "");
  return out.join("\n");
}
