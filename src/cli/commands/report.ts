import { logText } from "../../lib/encode.ts";
import { UsageError } from "../../lib/errors.ts";
import { STATE_HELP } from "../../lib/state.ts";
import { gate } from "../../readiness/gate.ts";
import { type Lang, writeReport } from "../../readiness/report/index.ts";
import { defineCommand } from "../command.ts";
import { displayPath, gateOptions, judgeOptions } from "../shared.ts";

export const report = defineCommand({
  name: "report",
  synopsis: "amadegi report --out DIR [--results FILE] [--lang fa|en] [--inventory DIR] [--milestone ID | --date D] [--approvals DIR]",
  before: "The report judges the milestone as `amadegi gate` does, with the same options, and records the verdict.",
  options: {
    out: { type: "string", placeholder: "DIR", description: "where to write report.html, summary.md, junit.xml and results.json (each atomically)" },
    lang: {
      type: "string",
      placeholder: "fa|en",
      default: "fa",
      description: "the language of report.html; fa is right-to-left, with Jalali dates and Persian digits",
    },
    ...judgeOptions,
  },
  after: [`${STATE_HELP}.`, "Exit codes: the gate's verdict: 0 ready, 1 not ready, 2 could not judge (the report is written in every case)."],
  async run(args, io) {
    const { out, lang } = args.values;
    if (out === undefined) throw new UsageError("report needs --out DIR", { hint: "see `amadegi report --help`" });
    if (lang !== "fa" && lang !== "en") throw new UsageError(`--lang ${lang}: expected fa or en`, { hint: "see `amadegi report --help`" });
    const run = await gate(await gateOptions(args.values, io));
    const files = await writeReport(run, displayPath(io, out), lang as Lang);
    io.out(
      logText(
        `${run.result.milestone.id}: ${run.result.verdict} (exit ${run.result.exitCode}); ` +
          `wrote ${files.html} (${(files.htmlBytes / 1024).toFixed(0)} KiB), ${files.summary}, ${files.junit}, ${files.json}`,
      ),
    );
    return run.result.exitCode;
  },
});
