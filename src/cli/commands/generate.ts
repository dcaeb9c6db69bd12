import { join } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { writeNational } from "../../model/synthetic/national.ts";
import { type Command, stringOption } from "../command.ts";
import { displayPath } from "./validate.ts";

function positiveInt(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`generate needs --${name} N`, { hint: "see `amadegi generate --help`" });
  }
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) {
    throw new UsageError(`--${name} ${value}: expected a whole number from 1 to 1000000`, { hint: "see `amadegi generate --help`" });
  }
  return Number(value);
}

export const generate: Command = {
  name: "generate",
  usage: [
    "Usage: amadegi generate --stations N --out DIR [--seed N] [--districts N]",
    "",
    "  --stations N   polling stations (the country had 58,640 in 2024)",
    "  --out DIR      where to write DIR/inventory/** and DIR/governance/committee.yaml",
    "  --seed N       the seed (default 1): the same seed writes the same files",
    "  --districts N  districts (default: one per 49 stations, about 1,200 nationally)",
    "",
    "Validate the result with: amadegi validate --inventory DIR/inventory",
  ].join("\n"),
  options: { stations: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, districts: { type: "string" } },
  async run(args, io) {
    const stations = positiveInt("stations", stringOption(args, "stations"));
    const seed = positiveInt("seed", stringOption(args, "seed"), 1);
    const districtsText = stringOption(args, "districts");
    const out = stringOption(args, "out");
    if (out === undefined) throw new UsageError("generate needs --out DIR", { hint: "see `amadegi generate --help`" });
    const dir = displayPath(io, out);
    const files = await writeNational(dir, { stations, seed, ...(districtsText === undefined ? {} : { districts: positiveInt("districts", districtsText) }) });
    const districts = files.filter((p) => p.startsWith("inventory/districts/")).length;
    io.out(`wrote ${files.length} files (${stations} stations in ${districts} districts) to ${dir}; validate with: amadegi validate --inventory ${join(dir, "inventory")}`);
    return ExitCode.OK;
  },
};
