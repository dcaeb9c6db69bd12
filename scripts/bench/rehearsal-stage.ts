// One rehearsal stage of `npm run bench:scale` in a process of its own, so the harness can take
// its time and its peak memory like any CLI stage's: `up` builds the rehearsal of --inventory
// under the bench's own namespace prefix (the CLI always uses amadegi-r-, which a running demo
// may hold), `down` removes it. Prints the stage's figures as one JSON line.
import { parseArgs } from "node:util";
import { rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { inventory: { type: "string" }, state: { type: "string" }, prefix: { type: "string" } },
});
const state = values.state ?? "";
const prefix = values.prefix ?? "";
if (state === "" || prefix === "") throw new Error("usage: rehearsal-stage.ts up|down --state DIR --prefix P [--inventory DIR]");

if (positionals[0] === "up") {
  const up = await rehearsalUp({ inventory: values.inventory ?? "", stateDir: state, prefix });
  const plan = up.plan;
  const figures = {
    whole: up.status.whole,
    problems: up.status.problems.slice(0, 5),
    namespaces: plan.namespaces.length,
    veths: plan.veths.length,
    servers: plan.servers.length,
    addresses: plan.operators.reduce((n, o) => n + o.addresses, 0),
    answering: plan.operators.reduce((n, o) => n + o.answering, 0),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  if (!up.status.whole) process.exitCode = 1;
} else if (positionals[0] === "down") {
  const down = await rehearsalDown({ stateDir: state, prefix });
  process.stdout.write(`${JSON.stringify({ namespaces: down.namespaces.length, processes: down.processes, leftovers: down.leftovers })}\n`);
  if (down.leftovers.length > 0) process.exitCode = 1;
} else throw new Error(`unknown stage ${positionals[0]}: up or down`);
