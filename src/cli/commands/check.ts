import { resolve } from "node:path";
import { logText } from "../../lib/encode.ts";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { formatFinding, stackInventory } from "../../model/index.ts";
import { check, parseDeadline } from "../../probe/run.ts";
import { openStackSettings, probeSettingsOf } from "../../probe/stackconfig.ts";
import { formatCounts, formatSpan, troubled } from "../../probe/summary.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { repoRoot } from "../../toolchain/paths.ts";
import { defineCommand } from "../command.ts";
import { argvOf, reexecInNetns, startedAt } from "../reexec.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";

/** The checks named on the human summary's "last to end" line. */
const SPANS_SHOWN = 3;

export const checkCommand = defineCommand({
  name: "check",
  synopsis: "amadegi check [--stack NAME] [--inventory DIR] [--checks DIR] [--select EXPR] [--deadline 60s] [--out FILE] [--json]",
  options: {
    stack: {
      type: "string",
      short: "s",
      placeholder: "NAME",
      default: "rehearsal",
      description: `the stack whose amadegi:probe settings apply; only its probe.allow ranges are probed\n(${STACK_FORMS})`,
    },
    stacks: { type: "string", placeholder: "DIR", default: "stacks", description: "where the stack settings live" },
    inventory: { type: "string", placeholder: "DIR", description: "the inventory (default: the stack's amadegi:inventory, as drift reads it)" },
    checks: { type: "string", placeholder: "DIR", default: "checks", description: "the check catalog" },
    select: {
      type: "string",
      placeholder: "EXPR",
      description:
        "only some targets: KEY=V[|V…][,KEY!=V…]; keys: check, kind, province, district, operator, medium, station, link, server; " +
        "KEY=* any value (server=* the central servers)",
    },
    deadline: {
      type: "string",
      placeholder: "TIME",
      default: "60s",
      description: "the whole command's time, counted from its start (loading included); what is left unjudged then is `unknown` (e.g. 90s, 5m)",
    },
    out: { type: "string", placeholder: "FILE", description: "results, JSON lines, streamed (default: <state>/results/<stack>-<time>.jsonl)" },
    json: { type: "boolean", description: "print the report as JSON" },
    netns: { type: "string", placeholder: "NAME", description: "run the campaign inside this network namespace (default: the stack's amadegi:probe.netns)" },
  },
  after: [
    `${STATE_HELP}; the stack's paths to state (amadegi:probe.pins, ca) are relative to it.`,
    "",
    "Exit codes: 0 everything up or degraded; 1 something down, unreachable or unknown;",
    "2 could not run (bad settings, catalog or inventory) or the campaign is invalid (the prober was starved).",
  ],
  async run(args, io) {
    // --deadline counts from here (from the first process's start, in a namespace's run).
    const begun = startedAt(io);
    const { out, select, json } = args.values;
    const stack = stackOption(args.values.stack, "check");
    const stacksDir = displayPath(io, args.values.stacks);
    const state = statePaths(io.env);
    // Read once: the namespace below, the campaign's settings and the stack's inventory.
    const read = openStackSettings(stack, stacksDir, { stateDir: state.root });
    const settings = probeSettingsOf(read);
    // A stack probed from a namespace (the rehearsal's) never runs its campaign out here.
    const netns = args.values.netns ?? settings.probe?.netns;
    if (netns !== undefined && !inNetns(netns)) return reexecInNetns(netns, argvOf("check", args), io);
    const deadlineText = args.values.deadline;
    const deadlineMs = parseDeadline(deadlineText);
    if (deadlineMs === undefined)
      throw new UsageError(`--deadline ${deadlineText}: expected a time such as 60s, 90s or 5m (100ms to 24h)`, { hint: "see `amadegi check --help`" });
    const interrupt = new AbortController();
    const onSigint = () => interrupt.abort();
    process.once("SIGINT", onSigint);
    try {
      const outcome = await check({
        stack,
        stacksDir,
        settings,
        resultsDir: state.results,
        // The stack's own inventory unless told (relative to the repository root, as drift and provisioning read it).
        inventory: args.values.inventory === undefined ? resolve(repoRoot, stackInventory(read.settings)) : displayPath(io, args.values.inventory),
        checks: displayPath(io, args.values.checks),
        ...(select === undefined ? {} : { select }),
        deadlineMs,
        startedAt: begun,
        ...(out === undefined ? {} : { out: displayPath(io, out) }),
        progress: process.stderr,
        signal: interrupt.signal,
      });
      if (!outcome.ran) {
        if (json) io.out(JSON.stringify({ ran: false, findings: outcome.findings }, null, 2));
        else for (const f of outcome.findings) io.err(logText(formatFinding(f)));
        io.err("check: could not run (fix the findings above)");
        return ExitCode.CANNOT_RUN;
      }
      const { report } = outcome;
      const t = report.summary.total;
      const code = !report.valid ? ExitCode.CANNOT_RUN : t.down + t.unreachable + t.unknown > 0 ? ExitCode.FINDINGS : ExitCode.OK;
      if (json) {
        io.out(
          JSON.stringify({ ...report, targets: outcome.targets, unaddressed: outcome.unaddressed, preparedMs: outcome.preparedMs, exitCode: code }, null, 2),
        );
        return code;
      }
      // Group names come from the inventory and reasons from the run: each line encoded whole (logText).
      const seconds = (report.elapsedMs / 1000).toFixed(1);
      const prepared = (outcome.preparedMs / 1000).toFixed(1);
      io.out(
        logText(
          `campaign ${report.id}: ${outcome.targets} targets in ${seconds}s after ${prepared}s of preparation (${report.attempts} attempts) → ${report.file}`,
        ),
      );
      io.out(`  ${formatCounts(t)}`);
      for (const [title, groups] of [
        ["district", report.summary.byDistrict],
        ["operator", report.summary.byOperator],
        ["medium", report.summary.byMedium],
        ["check", report.summary.byCheck],
      ] as const) {
        for (const [name, counts] of troubled(groups)) io.out(logText(`  ${title} ${name}: ${formatCounts(counts)}`));
      }
      // Which checks held the campaign's end: catalog ids (validated), times and counts.
      if (report.spans.length > 0) io.out(logText(`  last to end: ${report.spans.slice(0, SPANS_SHOWN).map(formatSpan).join(", ")}`));
      io.out(
        `  prober: event loop delay p99 ${report.loopDelay.p99} ms, max ${report.loopDelay.max} ms; ` +
          `${report.starvedAttempts} attempt(s) not judged (the prober stalled)` +
          `${report.cpuPressure === undefined ? "" : `; the machine's CPU was contended ${Math.round(report.cpuPressure * 100)}% of the time`}`,
      );
      if (outcome.unaddressed > 0) io.out(`  ${outcome.unaddressed} selected links have no routable address (proven by check-ins only)`);
      if (outcome.inventoryFindings.length > 0)
        io.err(`warning: the inventory has ${outcome.inventoryFindings.length} errors (amadegi validate); results may not mean what they seem`);
      if (!report.valid) for (const reason of report.invalid) io.err(logText(`INVALID: ${reason}`));
      io.out(
        code === ExitCode.OK
          ? "ready: every target up or degraded"
          : code === ExitCode.FINDINGS
            ? "not ready: see the counts above and the results file"
            : "invalid campaign: the prober was starved or interrupted; run it again",
      );
      return code;
    } finally {
      process.removeListener("SIGINT", onSigint);
    }
  },
});
