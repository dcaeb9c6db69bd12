import { InventoryError, UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { formatFinding, loadInventory } from "../../model/index.ts";
import { mergeResults } from "../../probe/merge.ts";
import { formatCounts } from "../../probe/summary.ts";
import { defineCommand } from "../command.ts";
import { displayPath } from "../shared.ts";

export const merge = defineCommand({
  name: "merge",
  synopsis: "amadegi merge RESULTS... --out FILE [--inventory DIR] [--json]",
  before: [
    "  RESULTS...        the shards' results files: each from `amadegi check --select province=…` (or district=…, station=…),",
    "                    and one from `amadegi check --select server=*` for the central servers",
  ],
  positionals: true,
  options: {
    out: { type: "string", placeholder: "FILE", description: "the merged results, in the same format (written atomically)" },
    inventory: {
      type: "string",
      placeholder: "DIR",
      default: "inventory",
      description: "the inventory the shards ran on: every station and server must be covered exactly once",
    },
    json: { type: "boolean", description: "print the merge as JSON" },
  },
  after: [
    "A shard declares what it covers by the selection in its header. Refused, nothing written (exit 2): a duplicated shard,",
    "two shards covering one station, a station or server no shard covers, a result outside its shard's selection.",
    "Exit codes: 0 merged, the campaign valid; 1 merged, but a shard was invalid or interrupted (so is the merge);",
    "2 could not merge.",
  ],
  async run(args, io) {
    const { out } = args.values;
    if (out === undefined) throw new UsageError("merge needs --out FILE", { hint: "see `amadegi merge --help`" });
    if (args.positionals.length === 0)
      throw new UsageError("merge needs the shards' results files", { hint: "amadegi merge shard-*.jsonl --out merged.jsonl" });
    const dir = displayPath(io, args.values.inventory);
    const loaded = await loadInventory(dir);
    if (loaded.inventory === undefined) {
      for (const f of loaded.findings) io.err(formatFinding(f));
      throw new InventoryError(`${dir} does not load, so the shards' coverage cannot be checked`, { hint: "fix the findings above (amadegi validate)" });
    }
    const report = await mergeResults({ shards: args.positionals.map((p) => displayPath(io, p)), out: displayPath(io, out), inventory: loaded.inventory });
    const code = report.valid ? ExitCode.OK : ExitCode.FINDINGS;
    if (args.values.json) {
      io.out(JSON.stringify({ ...report, exitCode: code }, null, 2));
      return code;
    }
    io.out(
      `merged ${report.shards.length} shards (${report.stations} stations, ${report.servers} servers, each covered once) ` +
        `→ ${report.file}: campaign ${report.id}, ${report.results} results`,
    );
    io.out(`  ${formatCounts(report.counts)}`);
    for (const why of report.invalid) io.err(`INVALID: ${why}`);
    io.out(
      report.valid ? "valid: every shard finished and was valid" : "invalid: the merged campaign is invalid because a shard is (the gate will not judge it)",
    );
    return code;
  },
});
