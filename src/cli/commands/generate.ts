import { join } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { writeNational } from "../../model/synthetic/national.ts";
import { defineCommand } from "../command.ts";
import { displayPath } from "../shared.ts";

function positiveInt(name: string, value: string | undefined, low = 1, high = 1_000_000): number {
  if (value === undefined) throw new UsageError(`generate needs --${name} N`, { hint: "see `amadegi generate --help`" });
  if (!/^\d+$/.test(value) || Number(value) < low || Number(value) > high) {
    throw new UsageError(`--${name} ${value}: expected a whole number from ${low} to ${high}`, { hint: "see `amadegi generate --help`" });
  }
  return Number(value);
}

export const generate = defineCommand({
  name: "generate",
  synopsis: "amadegi generate --stations N --out DIR [--seed N] [--districts N] [--provinces N] [--sites N]",
  options: {
    stations: { type: "string", placeholder: "N", description: "polling stations (the country had 58,640 in 2024)" },
    out: { type: "string", placeholder: "DIR", description: "where to write DIR/inventory/** and DIR/governance/committee.yaml" },
    seed: { type: "string", placeholder: "N", default: "1", description: "the seed: the same seed writes the same files" },
    districts: { type: "string", placeholder: "N", description: "districts (default: one per 49 stations, about 1,200 nationally)" },
    provinces: { type: "string", placeholder: "N", description: "only the first N of the 31 provinces (a smaller country: fewer gateways)" },
    sites: { type: "string", placeholder: "N", description: "only the first N of the 6 data centres, 2 to 6 (fewer central servers)" },
  },
  after: "Validate the result with: amadegi validate --inventory DIR/inventory",
  async run(args, io) {
    const { out, districts: districtsText } = args.values;
    const stations = positiveInt("stations", args.values.stations);
    const seed = positiveInt("seed", args.values.seed);
    if (out === undefined) throw new UsageError("generate needs --out DIR", { hint: "see `amadegi generate --help`" });
    const dir = displayPath(io, out);
    const { provinces, sites } = args.values;
    const files = await writeNational(dir, {
      stations,
      seed,
      ...(districtsText === undefined ? {} : { districts: positiveInt("districts", districtsText) }),
      ...(provinces === undefined ? {} : { provinces: positiveInt("provinces", provinces, 1, 31) }),
      ...(sites === undefined ? {} : { sites: positiveInt("sites", sites, 2, 6) }),
    });
    const districts = files.filter((p) => p.startsWith("inventory/districts/")).length;
    io.out(
      `wrote ${files.length} files (${stations} stations in ${districts} districts) to ${dir}; ` +
        `validate with: amadegi validate --inventory ${join(dir, "inventory")}`,
    );
    return ExitCode.OK;
  },
});
