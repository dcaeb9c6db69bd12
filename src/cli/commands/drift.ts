import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { logText } from "../../lib/encode.ts";
import { ProvisionError, UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { formatFinding, formatBoth } from "../../model/index.ts";
import type { ProvisionedState } from "../../model/render/index.ts";
import { openStackSettings, probeSettingsOf } from "../../probe/stackconfig.ts";
import { stackFileOf } from "../../provision/stackfile.ts";
import { crlNextUpdate, DRIFT_KINDS, DRIFT_TITLES, type DriftReport, parseProvisioned, runDrift } from "../../readiness/drift/index.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { repoRoot } from "../../toolchain/paths.ts";
import { defineCommand, type Io } from "../command.ts";
import { argvOf, reexecInNetns } from "../reexec.ts";
import { displayPath, judgeOptions, STACK_FORMS, stackOption } from "../shared.ts";

/** Items listed per kind in the text output (all of them are in --json and the stored report). */
const DETAILS = 25;

/** The provisioned state from a JSON file (`ProvisionedState`, or the `servers` output alone). */
async function provisionedFile(file: string, stack: string): Promise<ProvisionedState> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new UsageError(`cannot read the provisioned state ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      file,
      hint: "pass a JSON file: { stack, servers: { <id>: { address, roles, files, services, stationsHash, stations } } }",
      cause: error,
    });
  }
  const { state, problems } = parseProvisioned(value, stack);
  if (state === undefined)
    throw new UsageError(
      `the provisioned state ${file} is not usable: ${problems.slice(0, 10).join("; ")}${problems.length > 10 ? `; … ${problems.length - 10} more` : ""}`,
      { file, hint: "write it from the stack's `servers` output (amadegi up --json)" },
    );
  return state;
}

/** The provisioned state from the stack's outputs, through the Pulumi engine (loaded only when needed). */
async function provisionedOutputs(stack: string, io: Io): Promise<ProvisionedState | undefined> {
  const { withStack } = await import("../../provision/workspace.ts");
  // Outputs an unfinished up or destroy did not write are no record of the servers (ADR 0019): said, and drift goes on.
  const { unfinishedNote } = await import("../../provision/unfinished.ts");
  const note = unfinishedNote(stack, io.env);
  if (note !== undefined) io.err(logText(`drift of stack ${stack}: ${note}`));
  const outputs = await withStack(stack, {}, (s) => s.outputs());
  const servers = outputs.servers?.value;
  if (servers === undefined) return undefined;
  const crl = (outputs.pki?.value as { crl?: unknown } | undefined)?.crl;
  const crlNext = typeof crl === "string" ? await crlNextUpdate(crl) : undefined;
  const { state, problems } = parseProvisioned({ stack, servers, ...(crlNext === undefined ? {} : { crlNextUpdate: crlNext }) }, stack);
  if (state === undefined)
    throw new ProvisionError(`stack ${stack}'s servers output is not a provisioned state: ${problems.slice(0, 5).join("; ")}`, {
      hint: "run `amadegi up` with this version of amadegi",
    });
  return state;
}

const short = (key: string, n: number): string => (key.length > n ? `${key.slice(0, n - 1)}…` : key);

/**
 * The report for a person: counts first, then what changed, then the details
 * by kind. Details quote what servers answered and the inventory: each line
 * is encoded whole (logText), one line whatever they hold.
 */
export function formatDrift(r: DriftReport, file: string | undefined): string[] {
  const out: string[] = [];
  const reachable = r.facts.filter((f) => f.reachable).length;
  out.push(`drift of stack ${r.stack} at ${r.at} (waivers as of ${formatBoth(r.date)})`);
  out.push(`  declared: ${r.inventory.servers} servers, ${r.inventory.links} links (${r.inventory.dir})`);
  out.push(
    `  provisioned: ${r.provisionedServers === undefined ? "nothing (the stack has no servers output)" : `${r.provisionedServers} servers`}` +
      ` (${r.provisionedFrom})`,
  );
  out.push(
    `  observed: facts from ${reachable} of ${r.facts.length} servers; ` +
      `${r.results === undefined ? "no campaign" : `campaign ${r.results.campaign ?? "?"} (${r.results.file})`}`,
  );
  out.push(`  ${r.checked} comparisons`);
  const width = Math.max(...DRIFT_KINDS.map((k) => DRIFT_TITLES[k].length));
  for (const kind of DRIFT_KINDS) {
    const waived = r.waived[kind] > 0 ? `  (+${r.waived[kind]} waived)` : "";
    out.push(`  ${DRIFT_TITLES[kind].padEnd(width)}  ${String(r.counts[kind]).padStart(5)}${waived}`);
  }
  for (const reason of r.notJudged) out.push(`  not judged: ${reason}`);
  const c = r.changes;
  if (c !== undefined) {
    if (c.previous === undefined) out.push("since: no earlier drift report of this stack");
    else {
      out.push(`since ${c.previous.id} (${c.previous.at}): ${c.appeared.length} new, ${c.resolved.length} resolved`);
      for (const key of c.appeared.slice(0, 10)) out.push(`  + ${key}`);
      if (c.appeared.length > 10) out.push(`  + … ${c.appeared.length - 10} more`);
      for (const key of c.resolved.slice(0, 10)) out.push(`  - ${key}`);
      if (c.resolved.length > 10) out.push(`  - … ${c.resolved.length - 10} more`);
    }
  }
  for (const kind of DRIFT_KINDS) {
    const items = r.items.filter((i) => i.kind === kind);
    if (items.length === 0) continue;
    out.push("", `${DRIFT_TITLES[kind]}:`);
    for (const i of items.slice(0, DETAILS)) {
      const where = i.station === undefined ? "" : `  [${i.station}${i.district === undefined ? "" : `, ${i.district}`}]`;
      out.push(
        `  ${short(`${i.object}${i.subject === undefined ? "" : ` ${i.subject}`}`, 70)}  owner ${i.owner}${where}` +
          `${i.waivedBy === undefined ? "" : `  waived by ${i.waivedBy}`}`,
      );
      out.push(`      ${i.detail}`);
    }
    if (items.length > DETAILS) out.push(`  … ${items.length - DETAILS} more (amadegi drift --json${file === undefined ? "" : `, or ${file}`})`);
  }
  const versions = r.facts.filter((f) => Object.keys(f.versions).length > 0);
  if (versions.length > 0) {
    out.push("", "versions:");
    for (const f of versions) for (const [name, v] of Object.entries(f.versions)) out.push(`  ${f.server} ${name}: ${v ?? "(its version command failed)"}`);
  }
  out.push("");
  const unwaived = DRIFT_KINDS.filter((k) => k !== "unreachable").reduce((n, k) => n + r.counts[k], 0);
  if (r.verdict === "clean") out.push(`NO DRIFT: stack ${r.stack} (exit 0)`);
  else if (r.verdict === "drift") out.push(`DRIFT: ${unwaived} unwaived item${unwaived === 1 ? "" : "s"} in stack ${r.stack} (exit 1)`);
  else {
    out.push(`CANNOT JUDGE stack ${r.stack}: no drift found, but not everything could be compared (exit 2):`);
    for (const i of r.items.filter((x) => x.kind === "unreachable").slice(0, 5)) out.push(`  - ${i.object}: ${i.detail}`);
    for (const reason of r.notJudged) out.push(`  - ${reason}`);
  }
  if (file !== undefined) out.push(`report: ${file}`);
  return out.map(logText);
}

export const drift = defineCommand({
  name: "drift",
  synopsis: "amadegi drift --stack NAME [--json] [--results FILE] [--provisioned FILE] [--inventory DIR] [--stacks DIR]",
  before: [
    "Compares, per server, file and link: what the inventory declares, what the stack provisioned (its",
    "`servers` output) and what is observed (each server asked over SSH with its pinned host key: hashes of",
    "the files the stack wrote, listening sockets, service versions; and the latest campaign's results).",
  ],
  options: {
    stack: {
      type: "string",
      short: "s",
      placeholder: "NAME",
      description: `the stack (stacks/Pulumi.<NAME>.yaml): its inventory, environment, amadegi:probe (allow, netns, pins)\n(${STACK_FORMS})`,
    },
    stacks: { type: "string", placeholder: "DIR", default: "stacks", description: "where the stack settings live" },
    inventory: { type: "string", placeholder: "DIR", description: "the inventory (default: the stack's amadegi:inventory)" },
    provisioned: {
      type: "string",
      placeholder: "FILE",
      description: "the provisioned state as JSON ({ stack, servers }) instead of the stack's outputs (no engine needed)",
    },
    results: {
      type: "string",
      placeholder: "FILE",
      description: "the campaign that says what was observed (default: the newest <state>/results/<NAME>-*.jsonl)",
    },
    identity: {
      type: "string",
      placeholder: "FILE",
      description: "the private key to log in with (default: the pins overlay's control key, else amadegi:ssh.identityFile)",
    },
    // The history database, as the gate takes it.
    history: judgeOptions.history,
    "no-history": judgeOptions["no-history"],
    netns: { type: "string", placeholder: "NAME", description: "run inside this network namespace (default: the stack's amadegi:probe.netns)" },
    json: { type: "boolean", description: "print the report as JSON" },
  },
  after: [
    "The report is also written to <state>/drift/<NAME>.json, where the gate's no-unwaived-drift reads it;",
    `${STATE_HELP}, and the stack's paths to state (amadegi:probe.pins) are relative to it.`,
    "Exit codes: 0 no drift; 1 unwaived drift (not provisioned, not declared, changed on the server, never observed);",
    "2 could not run, or no drift found but a server could not be asked or the campaign could not be read.",
  ],
  async run(args, io): Promise<ExitCode> {
    const stack = stackOption(args.values.stack, "drift");
    const stacksDir = displayPath(io, args.values.stacks);
    const state = statePaths(io.env);
    // The stack's settings, read once: its namespace, environment and inventory.
    const read = openStackSettings(stack, stacksDir, { stateDir: state.root });
    // A stack reached from a namespace (the rehearsal's) is never asked from out here.
    const netns = args.values.netns ?? probeSettingsOf(read).probe?.netns;
    if (netns !== undefined && !inNetns(netns)) return reexecInNetns(netns, argvOf("drift", args), io);
    const settings = stackFileOf(stack, read);
    const { inventory: inventoryOption, provisioned, json } = args.values;
    const inventory = inventoryOption === undefined ? resolve(repoRoot, settings.inventory) : displayPath(io, inventoryOption);
    const path = (value: string | undefined) => (value === undefined ? undefined : displayPath(io, value));
    const results = path(args.values.results);
    const identityFile = path(args.values.identity);
    const history = args.values["no-history"] ? undefined : displayPath(io, args.values.history ?? state.history);
    const outcome = await runDrift({
      stack,
      stacksDir,
      settings: read,
      environment: settings.environment,
      inventory,
      provisioned: async () =>
        provisioned === undefined
          ? { state: await provisionedOutputs(stack, io), from: `stack ${stack}'s outputs` }
          : { state: await provisionedFile(displayPath(io, provisioned), stack), from: displayPath(io, provisioned) },
      ...(results === undefined ? {} : { results }),
      resultsDir: state.results,
      ...(identityFile === undefined ? {} : { identityFile }),
      driftDir: state.drift,
      ...(history === undefined ? {} : { history }),
    });
    if (!outcome.ran) {
      if (json) io.out(JSON.stringify({ ran: false, findings: outcome.findings }, null, 2));
      else for (const f of outcome.findings) io.err(logText(formatFinding(f)));
      io.err("drift: could not run (fix the findings above)");
      return ExitCode.CANNOT_RUN;
    }
    if (json) io.out(JSON.stringify(outcome.report, null, 2));
    else for (const line of formatDrift(outcome.report, outcome.file)) io.out(line);
    return outcome.report.exitCode;
  },
});
