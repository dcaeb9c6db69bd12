import { resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { parseDeadline } from "../../probe/run.ts";
import { formatReport, parseShare, restoreLeftovers, runDrill, SCENARIO_HELP, SCENARIOS, type Scenario } from "../../rehearsal/drill/index.ts";
import { type Command, flag, stringOption } from "../command.ts";
import { displayPath } from "./validate.ts";

export const drillCommand: Command = {
  name: "drill",
  usage: [
    "Usage: amadegi drill --scenario NAME [--share 20%] [--district ID] [--target ID] [--stack rehearsal] [--json]",
    "       amadegi drill --restore [--state DIR]",
    "",
    "Inject a fault into the rehearsal (kernel and process state inside its namespaces only: nftables drops,",
    "stopped daemons, a daemon under faketime), run the campaign, and report what the pipeline saw against",
    "what was injected: each fault detected and attributed to the right link, operator, point of presence or",
    "server; the stations that failed over to a backup path and their failover time; those that lost every",
    "path; the time to detection. Then restore, and check the network is whole again.",
    "",
    "Scenarios:",
    ...SCENARIOS.map((s) => `  ${s.padEnd(16)} ${SCENARIO_HELP[s]}`),
    "",
    "  --scenario NAME   one of the above",
    "  --share N%        fiber-cut: the share of the stations (with fiber) whose fiber is cut (default 20%)",
    "  --district ID     look at this district (and the central servers) only: the Pakdasht sample is quick",
    "  --target ID       the operator, point of presence or server to fail (default: chosen from the baseline)",
    "  --stack NAME      the rehearsal's stack: its probe settings, pins and CA (default: rehearsal)",
    "  --stacks DIR      where stack settings live (default: stacks)",
    "  --checks DIR      the check catalog (default: checks)",
    "  --inventory DIR   the inventory (default: the one the rehearsal was built from)",
    "  --state DIR       the rehearsal's state (default: <state>/rehearsal); reports go to DIR/drills/",
    "  --deadline TIME   each campaign's deadline (default 60s)",
    "  --restore         only undo the faults of a drill that did not finish (after a crash)",
    "  --json            print the full report as JSON",
    "",
    `${STATE_HELP}.`,
    "Needs root, a rehearsal that is up and provisioned (amadegi rehearsal up; amadegi up --stack rehearsal),",
    "and the device responders for failover times (amadegi rehearsal devices start). See docs/rehearsal.md.",
    "Exit codes: 0 every fault detected and attributed, nothing else alarmed, restored whole;",
    "1 a fault missed, misattributed or a false alarm; 2 could not run (also: another drill, up, down or",
    "devices start|stop holds the rehearsal), or the restore left something behind.",
  ].join("\n"),
  options: {
    scenario: { type: "string" },
    share: { type: "string" },
    district: { type: "string" },
    target: { type: "string" },
    stack: { type: "string" },
    stacks: { type: "string" },
    checks: { type: "string" },
    inventory: { type: "string" },
    state: { type: "string" },
    deadline: { type: "string" },
    restore: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(args, io) {
    const json = flag(args, "json");
    const state = resolve(io.cwd, stringOption(args, "state") ?? statePaths(io.env).rehearsal.dir);
    const scenarioText = stringOption(args, "scenario");
    if (flag(args, "restore")) {
      if (scenarioText !== undefined) throw new UsageError("--restore undoes an unfinished drill; it takes no --scenario", { hint: "see `amadegi drill --help`" });
    } else if (scenarioText === undefined || !(SCENARIOS as readonly string[]).includes(scenarioText)) {
      throw new UsageError(`drill needs --scenario with one of ${SCENARIOS.join(", ")}${scenarioText === undefined ? "" : `, not "${scenarioText}"`}`, { hint: "see `amadegi drill --help`" });
    }
    const share = parseShare(stringOption(args, "share") ?? "20%");
    const deadlineText = stringOption(args, "deadline") ?? "60s";
    const deadlineMs = parseDeadline(deadlineText);
    if (deadlineMs === undefined) throw new UsageError(`--deadline ${deadlineText}: expected a time such as 60s or 2m`, { hint: "see `amadegi drill --help`" });
    if (process.getuid?.() !== 0) {
      io.err("drill: needs root (it changes nftables and daemons inside the rehearsal's namespaces and runs the campaign in its probing namespace); run it as root");
      return ExitCode.CANNOT_RUN;
    }
    const log = json ? () => undefined : (line: string) => io.err(`  ${line}`);
    if (flag(args, "restore")) {
      const result = await restoreLeftovers(state, log);
      if (json) io.out(JSON.stringify(result, null, 2));
      else if (!result.restored) io.out("drill: no unfinished drill; nothing to restore");
      else if (result.leftovers.length === 0) io.out("drill: the unfinished drill's faults are undone");
      else for (const l of result.leftovers) io.err(`  left behind: ${l}`);
      return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
    }
    const inventory = stringOption(args, "inventory");
    const district = stringOption(args, "district");
    const target = stringOption(args, "target");
    const report = await runDrill({
      stateDir: state,
      ...(inventory === undefined ? {} : { inventory: displayPath(io, inventory) }),
      stack: stringOption(args, "stack") ?? "rehearsal",
      stacksDir: displayPath(io, stringOption(args, "stacks") ?? "stacks"),
      checks: displayPath(io, stringOption(args, "checks") ?? "checks"),
      scenario: scenarioText as Scenario,
      share,
      ...(target === undefined ? {} : { target }),
      ...(district === undefined ? {} : { district }),
      deadlineMs,
      env: io.env,
      log,
    });
    if (json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) io.out(line);
    return report.exitCode;
  },
};
