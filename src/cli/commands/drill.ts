import { resolve } from "node:path";
import { ToolError, UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { loadInventory } from "../../model/index.ts";
import { parseDeadline } from "../../probe/run.ts";
import { drillMapInput, writeDrillPage } from "../../readiness/report/index.ts";
import {
  type DrillReport,
  formatReport,
  parseShare,
  restoreLeftovers,
  runDrill,
  SCENARIO_HELP,
  SCENARIOS,
  type Scenario,
} from "../../rehearsal/drill/index.ts";
import { readMarker } from "../../rehearsal/marker.ts";
import { defineCommand } from "../command.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";

export const drillCommand = defineCommand({
  name: "drill",
  synopsis: ["amadegi drill --scenario NAME [--share 20%] [--district ID] [--target ID] [--stack rehearsal] [--json]", "amadegi drill --restore [--state DIR]"],
  before: [
    "Inject a fault into the rehearsal (kernel and process state inside its namespaces only: nftables drops,",
    "stopped daemons, a daemon under faketime), run the campaign, and report what the pipeline saw against",
    "what was injected: each fault detected and attributed to the right link, operator, point of presence or",
    "server; the stations that failed over to a backup path and their failover time; those that lost every",
    "path; the time to detection. Then restore, and check the network is whole again.",
    "",
    "Scenarios:",
    ...SCENARIOS.map((s) => `  ${s.padEnd(16)} ${SCENARIO_HELP[s]}`),
  ],
  options: {
    scenario: { type: "string", placeholder: "NAME", description: "one of the above" },
    share: { type: "string", placeholder: "N%", default: "20%", description: "fiber-cut: the share of the stations (with fiber) whose fiber is cut" },
    district: { type: "string", placeholder: "ID", description: "look at this district (and the central servers) only: the Pakdasht sample is quick" },
    target: { type: "string", placeholder: "ID", description: "the operator, point of presence or server to fail (default: chosen from the baseline)" },
    stack: {
      type: "string",
      short: "s",
      placeholder: "NAME",
      default: "rehearsal",
      description: `the rehearsal's stack: its probe settings, pins and CA (${STACK_FORMS})`,
    },
    stacks: { type: "string", placeholder: "DIR", default: "stacks", description: "where stack settings live" },
    checks: { type: "string", placeholder: "DIR", default: "checks", description: "the check catalog" },
    inventory: { type: "string", placeholder: "DIR", description: "the inventory (default: the one the rehearsal was built from)" },
    state: { type: "string", placeholder: "DIR", description: "the rehearsal's state (default: <state>/rehearsal); reports go to DIR/drills/" },
    deadline: { type: "string", placeholder: "TIME", default: "60s", description: "each campaign's deadline" },
    restore: { type: "boolean", description: "only undo the faults of a drill that did not finish (after a crash)" },
    json: { type: "boolean", description: "print the full report as JSON" },
  },
  after: [
    `${STATE_HELP}.`,
    "Needs root, a rehearsal that is up and provisioned (amadegi rehearsal up; amadegi up --stack rehearsal),",
    "and the device responders for failover times (amadegi rehearsal devices start). See docs/rehearsal.md.",
    "Exit codes: 0 every fault detected and attributed, nothing else alarmed, restored whole;",
    "1 a fault missed, misattributed or a false alarm; 2 could not run (also: another drill, up, down or",
    "devices start|stop holds the rehearsal), or the restore left something behind.",
  ],
  async run(args, io) {
    const { json, restore, inventory, district, target, scenario: scenarioText } = args.values;
    const state = resolve(io.cwd, args.values.state ?? statePaths(io.env).rehearsal.dir);
    if (restore) {
      if (scenarioText !== undefined)
        throw new UsageError("--restore undoes an unfinished drill; it takes no --scenario", { hint: "see `amadegi drill --help`" });
    } else if (scenarioText === undefined || !(SCENARIOS as readonly string[]).includes(scenarioText)) {
      throw new UsageError(`drill needs --scenario with one of ${SCENARIOS.join(", ")}${scenarioText === undefined ? "" : `, not "${scenarioText}"`}`, {
        hint: "see `amadegi drill --help`",
      });
    }
    const share = parseShare(args.values.share);
    const deadlineText = args.values.deadline;
    const deadlineMs = parseDeadline(deadlineText);
    if (deadlineMs === undefined) throw new UsageError(`--deadline ${deadlineText}: expected a time such as 60s or 2m`, { hint: "see `amadegi drill --help`" });
    if (process.getuid?.() !== 0) {
      io.err(
        "drill: needs root (it changes nftables and daemons inside the rehearsal's namespaces and runs the campaign in its probing namespace); run it as root",
      );
      return ExitCode.CANNOT_RUN;
    }
    const log = json ? () => undefined : (line: string) => io.err(`  ${line}`);
    if (restore) {
      const result = await restoreLeftovers(state, log);
      if (json) io.out(JSON.stringify(result, null, 2));
      else if (!result.restored) io.out("drill: no unfinished drill; nothing to restore");
      else if (result.leftovers.length === 0) io.out("drill: the unfinished drill's faults are undone");
      else for (const l of result.leftovers) io.err(`  left behind: ${l}`);
      return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
    }
    const report = await runDrill({
      stateDir: state,
      ...(inventory === undefined ? {} : { inventory: displayPath(io, inventory) }),
      stack: stackOption(args.values.stack, "drill"),
      stacksDir: displayPath(io, args.values.stacks),
      checks: displayPath(io, args.values.checks),
      scenario: scenarioText as Scenario,
      share,
      ...(target === undefined ? {} : { target }),
      ...(district === undefined ? {} : { district }),
      deadlineMs,
      env: io.env,
      log,
    });
    const page = await writePage(report, inventory === undefined ? readMarker(state).marker?.inventory : displayPath(io, inventory), log);
    if (json) io.out(JSON.stringify(report, null, 2));
    else for (const line of [...formatReport(report), `  page: ${page}`]) io.out(line);
    return report.exitCode;
  },
});

/**
 * The drill's page beside its JSON (Persian, like report.html), its stations on
 * the map when the drill's inventory loads: the one it ran against (--inventory,
 * or the rehearsal's). The drill has run and restored by now: a page that cannot
 * be written says where the report is.
 */
async function writePage(report: DrillReport, inventoryPath: string | undefined, log: (line: string) => void): Promise<string> {
  try {
    const inventory = inventoryPath === undefined ? undefined : (await loadInventory(inventoryPath)).inventory;
    if (inventory === undefined) log(`the page has no map: the inventory ${inventoryPath ?? "(none named)"} does not load`);
    const map = inventory === undefined ? {} : { map: drillMapInput(report, inventory), timeZone: inventory.election.timeZone };
    return await writeDrillPage(report, "fa", map);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ToolError(`the drill ran (exit ${report.exitCode}) but its page could not be written: ${why}`, {
      file: report.file,
      hint: "the drill's JSON report (this file) holds everything the page shows",
      cause: error,
    });
  }
}
