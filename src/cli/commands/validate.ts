import { logText } from "../../lib/encode.ts";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { type Finding, formatFinding, githubAnnotation, hasErrors, loadInventory } from "../../model/index.ts";
import { defineCommand } from "../command.ts";
import { displayPath, parseTodayOption } from "../shared.ts";

export function summarize(findings: readonly Finding[]) {
  const waived = findings.filter((f) => f.waived !== undefined).length;
  const errors = findings.filter((f) => f.severity === "error" && f.waived === undefined).length;
  const warnings = findings.filter((f) => f.severity === "warning" && f.waived === undefined).length;
  return { errors, warnings, waived };
}

export const validate = defineCommand({
  name: "validate",
  synopsis: "amadegi validate [--inventory DIR] [--json | --format text|json|github] [--today DATE] [--committee FILE]",
  options: {
    inventory: { type: "string", placeholder: "DIR", default: "inventory", description: "the inventory directory" },
    json: { type: "boolean", description: "print the findings as JSON (the same as --format json)" },
    format: {
      type: "string",
      placeholder: "FORMAT",
      description: "text, json, or github: each finding as a GitHub Actions annotation (::error file=…,line=…,col=…::…) for pull requests",
    },
    today: {
      type: "string",
      placeholder: "DATE",
      description: "check lifecycle and waivers as of this day (ISO or Jalali; default: today in the election's time zone)",
    },
    committee: { type: "string", placeholder: "FILE", description: "the committee file (default: DIR/../governance/committee.yaml)" },
  },
  after: ["Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 could not run.", "Writes nothing."],
  async run(args, io) {
    const { committee } = args.values;
    const format = args.values.format ?? (args.values.json ? "json" : "text");
    if (format !== "text" && format !== "json" && format !== "github")
      throw new UsageError(`--format ${format}: expected text, json or github`, { hint: "see `amadegi validate --help`" });
    const dir = displayPath(io, args.values.inventory);
    const today = parseTodayOption(args.values.today);
    const result = await loadInventory(dir, {
      ...(today === undefined ? {} : { today }),
      ...(committee === undefined ? {} : { committeeFile: displayPath(io, committee) }),
    });
    const counts = summarize(result.findings);
    const inv = result.inventory;
    const size = inv === undefined ? undefined : { stations: inv.stations.length, links: inv.linksById.size, servers: inv.servers.length, today: inv.today };
    if (format === "github") {
      // The annotations are the only workflow commands amadegi writes: past the Io's guard, each value escaped.
      const annotate = io.command ?? io.out;
      for (const finding of result.findings) annotate(githubAnnotation(finding));
      io.out(logText(`${dir}: ${counts.errors} errors, ${counts.warnings} warnings, ${counts.waived} waived`));
    } else if (format === "json") {
      io.out(JSON.stringify({ ok: !hasErrors(result.findings), files: result.files, ...size, ...counts, findings: result.findings }, null, 2));
    } else {
      // A finding quotes the inventory: one line each, whatever the quoted text holds.
      for (const finding of result.findings) io.out(logText(formatFinding(finding)));
      const what =
        size === undefined
          ? `${result.files} files`
          : `${result.files} files, ${size.stations} stations, ${size.links} links, ${size.servers} servers (as of ${size.today})`;
      io.out(logText(`${dir}: ${what}: ${counts.errors} errors, ${counts.warnings} warnings, ${counts.waived} waived`));
    }
    return hasErrors(result.findings) ? ExitCode.FINDINGS : ExitCode.OK;
  },
});
