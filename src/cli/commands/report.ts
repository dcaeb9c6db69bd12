import { logText } from "../../lib/encode.ts";
import { UsageError } from "../../lib/errors.ts";
import { STATE_HELP } from "../../lib/state.ts";
import { gate } from "../../readiness/gate.ts";
import { type Lang, writeReport } from "../../readiness/report/index.ts";
import { type Command, stringOption } from "../command.ts";
import { gateOptions, sharedOptions } from "./gate.ts";
import { displayPath } from "./validate.ts";

export const report: Command = {
  name: "report",
  usage: [
    "Usage: amadegi report --out DIR [--results FILE] [--lang fa|en] [--inventory DIR] [--milestone ID | --date D] [--approvals DIR]",
    "",
    "  --out DIR         where to write report.html, summary.md, junit.xml and results.json (each atomically)",
    "  --lang fa|en      the language of report.html (default fa: right-to-left, Jalali dates, Persian digits)",
    "  --results FILE    a campaign's results (default: the newest <state>/results/*.jsonl)",
    "  other options as for `amadegi gate` (the report judges the milestone the same way and records the verdict)",
    "",
    `${STATE_HELP}.`,
    "Exit codes: the gate's verdict: 0 ready, 1 not ready, 2 could not judge (the report is written in every case).",
  ].join("\n"),
  options: { ...sharedOptions, out: { type: "string" }, lang: { type: "string" } },
  async run(args, io) {
    const out = stringOption(args, "out");
    if (out === undefined) throw new UsageError("report needs --out DIR", { hint: "see `amadegi report --help`" });
    const lang = stringOption(args, "lang") ?? "fa";
    if (lang !== "fa" && lang !== "en") throw new UsageError(`--lang ${lang}: expected fa or en`, { hint: "see `amadegi report --help`" });
    const run = await gate(await gateOptions(args, io));
    const files = await writeReport(run, displayPath(io, out), lang as Lang);
    io.out(logText(`${run.result.milestone.id}: ${run.result.verdict} (exit ${run.result.exitCode}); wrote ${files.html} (${(files.htmlBytes / 1024).toFixed(0)} KiB), ${files.summary}, ${files.junit}, ${files.json}`));
    return run.result.exitCode;
  },
};
