import { markdownCode, markdownText } from "../../lib/encode.ts";
import { DRIFT_KINDS, DRIFT_TITLES, type DriftItem, type LatestDrift } from "../drift/index.ts";

/**
 * The report's drift section, when the gate read a drift report of the
 * results' stack: its age and verdict, counts per kind (waived apart), and
 * the unwaived items, worst kinds first. html.ts draws it in report.html (the
 * items join the searchable offender tables); summary.md keeps the top few, here.
 */
export type FoundDrift = Extract<LatestDrift, { found: true }>;

/** Items shown (the rest are in the stored report and `amadegi drift --json`). */
export const DRIFT_ROWS = 200;
const MD_ROWS = 10;

const itemName = (i: DriftItem): string => `${i.object}${i.subject === undefined ? "" : ` ${i.subject}`}`;

/**
 * summary.md's drift section. The report is a file read back from
 * the state directory's drift/ and checked only in outline, and its items quote servers'
 * answers: every value of it, counts and kinds too, is written as Markdown
 * text or code (src/lib/encode.ts), never as Markdown.
 */
export function driftMarkdown(d: FoundDrift): string[] {
  const r = d.report;
  const out = [
    `### Drift (${markdownText(String(r.verdict))}, report ${markdownCode(String(r.id))}, ${d.ageHours.toFixed(1)} h old)`,
    "",
    "| kind | count | waived |",
    "| --- | ---: | ---: |",
  ];
  for (const k of DRIFT_KINDS) out.push(`| ${DRIFT_TITLES[k]} | ${markdownText(String(r.counts[k]))} | ${markdownText(String(r.waived[k]))} |`);
  out.push("");
  const open = r.items.filter((i) => i.waivedBy === undefined);
  if (open.length > 0) {
    out.push(
      `<details><summary>${open.length} drift item${open.length === 1 ? "" : "s"} (first ${Math.min(MD_ROWS, open.length)})</summary>`,
      "",
      "| item | owner | kind | what |",
      "| --- | --- | --- | --- |",
    );
    for (const i of open.slice(0, MD_ROWS))
      out.push(
        `| ${markdownCode(itemName(i), "cell")} | ${markdownText(String(i.owner))} | ${markdownText(String(i.kind))} | ${markdownText(String(i.detail))} |`,
      );
    out.push("", "</details>", "");
  }
  return out;
}
