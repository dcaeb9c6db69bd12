import { isAbsolute, relative, resolve } from "node:path";
import { logText } from "../../lib/encode.ts";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { githubAnnotation } from "../../model/annotations.ts";
import { type Finding, formatFinding, hasErrors, type IsoDate, loadInventory, parseDate } from "../../model/index.ts";
import { type Command, flag, type Io, stringOption } from "../command.ts";

/** A path as the user will recognise it: relative to where they stand, as given. */
export function displayPath(io: Io, path: string): string {
  if (isAbsolute(path)) return path;
  return relative(process.cwd(), resolve(io.cwd, path)) || ".";
}

export function parseTodayOption(value: string | undefined): IsoDate | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDate(value);
  if (!parsed.ok) throw new UsageError(`--today ${value}: ${parsed.reason}`, { hint: "write --today 2027-02-20 or --today 1405-12-01" });
  return parsed.iso;
}

export function summarize(findings: readonly Finding[]) {
  const waived = findings.filter((f) => f.waived !== undefined).length;
  const errors = findings.filter((f) => f.severity === "error" && f.waived === undefined).length;
  const warnings = findings.filter((f) => f.severity === "warning" && f.waived === undefined).length;
  return { errors, warnings, waived };
}

export const validate: Command = {
  name: "validate",
  usage: [
    "Usage: amadegi validate [--inventory DIR] [--json | --format text|json|github] [--today DATE] [--committee FILE]",
    "",
    "  --inventory DIR   the inventory directory (default: ./inventory)",
    "  --json            print the findings as JSON (the same as --format json)",
    "  --format github   print each finding as a GitHub Actions annotation (::error file=…,line=…,col=…::…) for pull requests",
    "  --today DATE      check lifecycle and waivers as of this day (ISO or Jalali; default: today in the election's time zone)",
    "  --committee FILE  the committee file (default: DIR/../governance/committee.yaml)",
    "",
    "Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 could not run.",
    "Writes nothing.",
  ].join("\n"),
  options: {
    inventory: { type: "string" },
    json: { type: "boolean" },
    format: { type: "string" },
    today: { type: "string" },
    committee: { type: "string" },
  },
  async run(args, io) {
    const format = stringOption(args, "format") ?? (flag(args, "json") ? "json" : "text");
    if (format !== "text" && format !== "json" && format !== "github") throw new UsageError(`--format ${format}: expected text, json or github`, { hint: "see `amadegi validate --help`" });
    const dir = displayPath(io, stringOption(args, "inventory") ?? "inventory");
    const committee = stringOption(args, "committee");
    const today = parseTodayOption(stringOption(args, "today"));
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
      const what = size === undefined ? `${result.files} files` : `${result.files} files, ${size.stations} stations, ${size.links} links, ${size.servers} servers (as of ${size.today})`;
      io.out(logText(`${dir}: ${what}: ${counts.errors} errors, ${counts.warnings} warnings, ${counts.waived} waived`));
    }
    return hasErrors(result.findings) ? ExitCode.FINDINGS : ExitCode.OK;
  },
};
