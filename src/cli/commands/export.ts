import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { formatFinding } from "../../model/index.ts";
import { exportPrometheus } from "../../probe/export.ts";
import { writeOpenMetrics } from "../../probe/openmetrics.ts";
import { defineCommand } from "../command.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";

const FORMATS = ["prometheus", "openmetrics"] as const;

export const exportCommand = defineCommand({
  name: "export",
  synopsis: [
    "amadegi export prometheus --out DIR [--inventory DIR] [--checks DIR] [--stack NAME] [--blackbox HOST:PORT] [--json]",
    "amadegi export openmetrics --results FILE --out FILE",
  ],
  before: [
    "prometheus: the targets the catalog selects in the inventory, as Prometheus file_sd files (DIR/targets/<check>.json, labels",
    "  check, kind, station, link, district, province, operator, medium, server, role, site, gateway), blackbox_exporter modules",
    "  (DIR/blackbox.yml) and a prometheus.yml scraping them through the exporter; each file written atomically.",
    "  Checks blackbox_exporter cannot run (ntp, device check-ins) are listed and left out.",
    "openmetrics: a campaign's results as OpenMetrics text for node_exporter's textfile collector (written atomically).",
  ],
  positionals: true,
  options: {
    out: { type: "string", placeholder: "DIR|FILE", description: "prometheus: the directory to write; openmetrics: the file" },
    inventory: { type: "string", placeholder: "DIR", default: "inventory", description: "prometheus: the inventory" },
    checks: { type: "string", placeholder: "DIR", default: "checks", description: "prometheus: the check catalog" },
    stack: {
      type: "string",
      short: "s",
      placeholder: "NAME",
      description: `prometheus: use the stack's TLS settings (CA, client certificate) and label targets with it\n(${STACK_FORMS})`,
    },
    stacks: { type: "string", placeholder: "DIR", default: "stacks", description: "prometheus: where the stack settings live" },
    blackbox: { type: "string", placeholder: "ADDR", description: "prometheus: the blackbox_exporter Prometheus scrapes (default 127.0.0.1:9115)" },
    results: { type: "string", placeholder: "FILE", description: "openmetrics: the campaign's results" },
    json: { type: "boolean", description: "prometheus: print what was written as JSON" },
  },
  after: "Exit codes: 0 written; 2 could not (bad inventory, catalog or stack settings, unreadable results).",
  async run(args, io) {
    const [format, ...rest] = args.positionals;
    if (format === undefined || !(FORMATS as readonly string[]).includes(format) || rest.length > 0) {
      throw new UsageError(`export needs one format: ${FORMATS.join(" or ")}${format === undefined ? "" : ` (got ${args.positionals.join(" ")})`}`, {
        hint: "see `amadegi export --help`",
      });
    }
    const { out, stack, blackbox } = args.values;
    if (out === undefined)
      throw new UsageError(`export ${format} needs --out ${format === "prometheus" ? "DIR" : "FILE"}`, { hint: "see `amadegi export --help`" });
    if (format === "openmetrics") {
      const { results } = args.values;
      if (results === undefined) throw new UsageError("export openmetrics needs --results FILE", { hint: "the results of `amadegi check` or `amadegi merge`" });
      const r = await writeOpenMetrics(displayPath(io, results), displayPath(io, out));
      io.out(`wrote ${displayPath(io, out)}: ${r.results} results as OpenMetrics`);
      return ExitCode.OK;
    }
    const outcome = await exportPrometheus({
      inventory: displayPath(io, args.values.inventory),
      checks: displayPath(io, args.values.checks),
      out: displayPath(io, out),
      ...(stack === undefined ? {} : { stack: stackOption(stack, "export"), stacksDir: displayPath(io, args.values.stacks) }),
      ...(blackbox === undefined ? {} : { blackbox }),
    });
    if (!outcome.written) {
      for (const f of outcome.findings) io.err(formatFinding(f));
      io.err("export: nothing written (fix the findings above)");
      return ExitCode.CANNOT_RUN;
    }
    if (args.values.json) {
      io.out(JSON.stringify({ paths: outcome.paths, targets: outcome.targets, skipped: outcome.skipped }, null, 2));
      return ExitCode.OK;
    }
    io.out(`wrote ${outcome.paths.length} files to ${displayPath(io, out)}: ${outcome.targets} targets, prometheus.yml, blackbox.yml`);
    for (const s of outcome.skipped) io.out(`  left out ${s.check} (${s.kind}): ${s.reason}`);
    return ExitCode.OK;
  },
});
