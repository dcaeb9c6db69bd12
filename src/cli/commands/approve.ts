import { join } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { gateVerdict } from "../../readiness/gate.ts";
import { renderManifest, SIGNOFF_NAMESPACE } from "../../readiness/signoff.ts";
import { defineCommand } from "../command.ts";
import { displayPath, gateOptions, judgeOptions } from "../shared.ts";

export const approve = defineCommand({
  name: "approve",
  synopsis: "amadegi approve --milestone ID --results FILE [--inventory DIR] [--out FILE]",
  options: {
    ...judgeOptions,
    milestone: { ...judgeOptions.milestone, description: "the milestone to approve" },
    results: { ...judgeOptions.results, description: "the results being approved (their sha256 goes into the manifest)" },
    inventory: { ...judgeOptions.inventory, description: "the inventory; it must be committed: the manifest names the commit" },
    history: { ...judgeOptions.history, description: "not used: approve records nothing in the history" },
    "no-history": { ...judgeOptions["no-history"], description: "not used: approve records nothing in the history" },
    out: { type: "string", placeholder: "FILE", description: "where to write the manifest (default: <state>/approvals/<milestone>-<time>.txt)" },
  },
  after: [
    `${STATE_HELP}.`,
    "Judges the milestone as the gate does, writes the manifest, prints it and the ssh-keygen line to sign it.",
    "Exit codes: 0 manifest written; 2 nothing to approve (cannot judge, no commit, uncommitted changes).",
  ],
  async run(args, io) {
    if (args.values.milestone === undefined) throw new UsageError("approve needs --milestone ID", { hint: "name the milestone you approve" });
    if (args.values.results === undefined)
      throw new UsageError("approve needs --results FILE", { hint: "name the results file you approve (the gate checks its sha256)" });
    const options = await gateOptions(args.values, io, false);
    const result = await gateVerdict(options);
    const { inventory, results } = result;
    if (result.criteriaVerdict === "cannot-judge" || results === undefined) {
      io.err(`approve: milestone ${result.milestone.id} cannot be judged on these results, so there is nothing to approve:`);
      for (const reason of result.reasons) io.err(`  - ${reason}`);
      return ExitCode.CANNOT_RUN;
    }
    if (inventory.commit === undefined || inventory.dirty) {
      throw new UsageError(
        inventory.commit === undefined
          ? `${inventory.dir} is not in a git repository: a manifest names the inventory's commit`
          : `${inventory.dir} has uncommitted changes: commit them, then approve`,
        { hint: "the gate refuses approvals of another commit" },
      );
    }
    const now = new Date();
    const manifest = renderManifest({
      election: result.election.id,
      milestone: result.milestone.id,
      inventoryCommit: inventory.commit,
      resultsSha256: results.sha256,
      verdict: result.criteriaVerdict,
      time: `${now.toISOString().slice(0, 19)}Z`,
    });
    const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, "");
    const approvals = statePaths(io.env).approvals;
    const out = displayPath(io, args.values.out ?? join(approvals, `${result.milestone.id}-${stamp}.txt`));
    await writeFileAtomic(out, manifest);
    io.out(manifest.trimEnd());
    io.out("");
    if (result.criteriaVerdict !== "ready") io.err(`note: the verdict is not-ready; an approval of it does not let the gate pass`);
    io.out(`wrote ${out}; sign it unchanged with your committee key:`);
    io.out(`  ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n ${SIGNOFF_NAMESPACE} ${out}`);
    io.out(`then put ${out} and ${out}.sig in the gate's approvals directory (--approvals, default ${approvals}).`);
    io.out(`The approval counts for ${result.milestone.maxAgeHours} h, for these results and inventory commit ${inventory.commit.slice(0, 12)} only.`);
    return ExitCode.OK;
  },
});
