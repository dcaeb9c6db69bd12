import { join, resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { layout, planFor, rehearsalDown, rehearsalStatus, rehearsalUp, type Plan, type RehearsalStatus } from "../../rehearsal/index.ts";
import { stateDir } from "../../toolchain/paths.ts";
import { type Command, flag, type Io, stringOption } from "../command.ts";
import { displayPath } from "./validate.ts";

const ACTIONS = ["up", "status", "down"] as const;

function counts(plan: Plan): string {
  const answering = plan.operators.reduce((n, o) => n + o.answering, 0);
  const blind = plan.operators.reduce((n, o) => n + o.blind.length, 0);
  const weak = plan.operators.reduce((n, o) => n + o.weak.length, 0);
  return `${plan.namespaces.length} namespaces, ${plan.veths.length} veth links, ${plan.servers.length} sshd servers, ${answering} link addresses answering (${blind} blind spots down, ${weak} weak links lossy)`;
}

function printStatus(io: Io, status: RehearsalStatus): void {
  io.out(status.whole ? "rehearsal is up and whole" : status.exists ? "rehearsal is NOT whole" : "rehearsal is not up");
  if (status.marker !== undefined) io.out(`  marker: ${status.marker.complete ? "complete" : "INCOMPLETE"}, ${status.marker.steps} steps, started ${status.marker.startedAt}; ${status.matchesInventory ? "matches the inventory" : "does NOT match the inventory"}`);
  for (const ns of status.namespaces) io.out(`  ${ns.exists ? (ns.problems.length === 0 ? "ok  " : "BAD ") : "--  "} ${ns.name} (${ns.role})${ns.problems.length > 0 && ns.exists ? `: ${ns.problems.join("; ")}` : ""}`);
  const listening = status.servers.filter((s) => s.listening).length;
  io.out(`  sshd: ${listening}/${status.servers.length} listening${status.supervisor === undefined ? "" : `, supervisor pid ${status.supervisor.pid} ${status.supervisor.alive ? "running" : "NOT running"}`}`);
  for (const p of status.problems) io.out(`  problem: ${p}`);
}

export const rehearsalCommand: Command = {
  name: "rehearsal",
  usage: [
    "Usage: amadegi rehearsal up|status|down [--inventory DIR] [--state DIR] [--json]",
    "",
    "  up               build the rehearsal from the inventory: a core namespace with every central server",
    "                   (a real sshd each), one namespace per operator answering its stations' link addresses,",
    "                   a probing namespace (amadegi-r-probe); link quality from the survey data. Idempotent.",
    "  status           what is up, and whether it matches the inventory (sends no packet)",
    "  down             remove every namespace, process and file up made, also after a crash of up",
    "                   (host keys are kept, so the pins stay valid)",
    "  --inventory DIR  the inventory (default: inventory)",
    "  --state DIR      marker, configs, logs and kept keys (default: .amadegi/rehearsal)",
    "  --json           print the result as JSON",
    "",
    "Needs root. See docs/rehearsal.md. Exit codes: 0 done / whole; 1 status: not whole or not up;",
    "2 could not run (not root, bad inventory, a tool failed, down left something behind).",
  ].join("\n"),
  options: {
    inventory: { type: "string" },
    state: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: true,
  async run(args, io) {
    const [action, ...extra] = args.positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
      throw new UsageError(`rehearsal needs one of ${ACTIONS.join(", ")}${action === undefined ? "" : `, not "${args.positionals.join(" ")}"`}`, { hint: "see `amadegi rehearsal --help`" });
    }
    if (process.getuid?.() !== 0) {
      io.err("rehearsal: needs root (it creates network namespaces, nftables rules and sshd servers on the inventory's addresses inside them); run it as root, e.g. sudo npx amadegi rehearsal " + action);
      return ExitCode.CANNOT_RUN;
    }
    const json = flag(args, "json");
    const inventory = displayPath(io, stringOption(args, "inventory") ?? "inventory");
    const state = resolve(io.cwd, stringOption(args, "state") ?? join(stateDir(io.env), "rehearsal"));
    const options = { inventory, stateDir: state, log: json ? () => undefined : (line: string) => io.err(`  ${line}`) };
    if (action === "down") {
      const result = await rehearsalDown(options);
      if (json) io.out(JSON.stringify(result, null, 2));
      else {
        io.out(`rehearsal down in ${(result.elapsedMs / 1000).toFixed(1)}s: ${result.namespaces.length} namespaces, ${result.processes} processes, ${result.files.length} files removed (host keys kept in ${layout(state).keys})`);
        for (const l of result.leftovers) io.err(`  left behind: ${l}`);
      }
      return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
    }
    if (action === "status") {
      const plan = await planFor(options);
      const status = await rehearsalStatus(plan, layout(state));
      if (json) io.out(JSON.stringify(status, null, 2));
      else printStatus(io, status);
      return status.whole ? ExitCode.OK : ExitCode.FINDINGS;
    }
    const result = await rehearsalUp(options);
    if (json) io.out(JSON.stringify({ changed: result.changed, elapsedMs: result.elapsedMs, plan: { namespaces: result.plan.namespaces.map((n) => n.name), veths: result.plan.veths.length, servers: result.plan.servers.length, operators: result.plan.operators.map((o) => ({ id: o.id, ns: o.ns, interconnects: o.interconnects, addresses: o.addresses, answering: o.answering, blind: o.blind.length, weak: o.weak.length })), hash: result.plan.hash }, status: result.status }, null, 2));
    else {
      io.out(`${result.changed ? "rehearsal up" : "rehearsal already up, unchanged"} in ${(result.elapsedMs / 1000).toFixed(1)}s: ${counts(result.plan)}`);
      io.out(`  probe from: ip netns exec ${result.plan.probe} …   (amadegi check --stack rehearsal does it for you)`);
      io.out(`  pins: ${layout(state).pins}   stop: amadegi rehearsal down`);
      if (!result.status.whole) for (const p of result.status.problems) io.err(`  problem: ${p}`);
    }
    return result.status.whole ? ExitCode.OK : ExitCode.CANNOT_RUN;
  },
};
