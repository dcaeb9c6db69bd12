import { join } from "node:path";
import { writeFileAtomic } from "../../lib/fs.ts";
import type { LatestDrift } from "../drift/index.ts";
import type { GateRun } from "../gate.ts";
import { reportData } from "./data.ts";
import { renderHtml } from "./html.ts";
import type { Lang } from "./i18n.ts";
import { renderJunit } from "./junit.ts";
import { renderMarkdown } from "./markdown.ts";

export type { Lang } from "./i18n.ts";
export { DRILL_ROWS, drillMapInput, drillPagePath, type DrillPageOptions, type DrillView, renderDrillHtml, writeDrillPage } from "./drill.ts";
export { type RehearsalPictureInput, renderRehearsalHtml, writeRehearsalHtml } from "./rehearsal.ts";

export interface ReportFiles {
  readonly html: string;
  readonly summary: string;
  readonly junit: string;
  readonly json: string;
  readonly htmlBytes: number;
}

/**
 * Write the report of a gate run: report.html, summary.md, junit.xml and
 * results.json, each atomically (a crash leaves the old file or the new one,
 * never half of one). The HTML is rendered in memory first, so a failure
 * while rendering writes nothing.
 */
export async function writeReport(run: GateRun & { readonly drift?: LatestDrift }, outDir: string, lang: Lang): Promise<ReportFiles> {
  const data = reportData(run);
  // The drift section appears when the gate read a drift report of the results' stack.
  const drift = run.drift?.found === true ? run.drift : undefined;
  const html = renderHtml(run.result, data, lang, drift);
  const summary = renderMarkdown(run.result, data, drift);
  const junit = renderJunit(run.result);
  const tallies = { stationCounts: data.stationCounts, byDistrict: data.byDistrict, byOperator: data.byOperator, byOwner: data.byOwner };
  const driftSummary =
    drift === undefined
      ? undefined
      : {
          file: drift.file,
          id: drift.report.id,
          at: drift.report.at,
          ageHours: drift.ageHours,
          verdict: drift.report.verdict,
          counts: drift.report.counts,
          waived: drift.report.waived,
        };
  const json = `${JSON.stringify({ ...run.result, stations: tallies, ...(driftSummary === undefined ? {} : { drift: driftSummary }) }, null, 1)}\n`;
  const files = {
    html: join(outDir, "report.html"),
    summary: join(outDir, "summary.md"),
    junit: join(outDir, "junit.xml"),
    json: join(outDir, "results.json"),
  };
  await writeFileAtomic(files.json, json);
  await writeFileAtomic(files.junit, junit);
  await writeFileAtomic(files.summary, summary);
  await writeFileAtomic(files.html, html);
  return { ...files, htmlBytes: Buffer.byteLength(html) };
}
