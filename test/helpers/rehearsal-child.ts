// `node rehearsal-child.ts INVENTORY STATE PREFIX [KILL_AT]`: runs rehearsal
// up in a process of its own, for tests that kill it half-way. With KILL_AT,
// it SIGKILLs itself when up reports a progress line containing that text —
// a real crash at a known point, with no chance to clean up.
import { rehearsalUp } from "../../src/rehearsal/index.ts";

const [inventory, stateDir, prefix, killAt] = process.argv.slice(2);
if (inventory === undefined || stateDir === undefined || prefix === undefined) throw new Error("usage: rehearsal-child.ts INVENTORY STATE PREFIX [KILL_AT]");
await rehearsalUp({
  inventory,
  stateDir,
  prefix,
  log: (line) => {
    process.stdout.write(`${line}\n`);
    if (killAt !== undefined && line.includes(killAt)) process.kill(process.pid, "SIGKILL");
  },
});
