import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { formatFinding, webhookProblem } from "../../model/index.ts";
import { exportPrometheus } from "../../probe/export.ts";
import { writeOpenMetrics } from "../../probe/openmetrics.ts";
import { defineCommand } from "../command.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";

const FORMATS = ["prometheus", "openmetrics"] as const;

export const exportCommand = defineCommand({
  name: "export",
  synopsis: [
    "amadegi export prometheus --out DIR [--inventory DIR] [--checks DIR] [--stack NAME] [--blackbox HOST:PORT] [--alertmanager HOST:PORT]",
    "                          [--webhook URL] [--timing production|rehearsal] [--checkins] [--json]",
    "amadegi export openmetrics --results FILE --out FILE",
  ],
  before: [
    "prometheus: the targets the catalog selects in the inventory, as Prometheus file_sd files (DIR/targets/<check>.json, labels",
    "  check, kind, station, link, district, province, operator, medium, server, role, site, gateway), blackbox_exporter modules",
    "  (DIR/blackbox.yml) and a prometheus.yml scraping them through the exporter; each file written atomically.",
    "  Checks blackbox_exporter cannot run (ntp, device check-ins) are listed and left out. With them the alerting rules",
    "  (DIR/rules.yml: links, stations, operators, points of presence, central servers, certificates against election day)",
    "  and Alertmanager's configuration (DIR/alertmanager.yml: a route per district to its on-call receiver, escalation for",
    "  the rest, inhibitions), posting to --webhook, else the stack's amadegi:alerting, else nowhere (docs/monitoring.md).",
    "  --checkins (with --stack) adds a job per gateway scraping its check-in table (the devices' last check-in, the CRL's",
    "  nextUpdate) over HTTPS: the gateways answer only the inventory's monitor servers, so run that Prometheus on one.",
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
    alertmanager: { type: "string", placeholder: "ADDR", description: "prometheus: the Alertmanager prometheus.yml sends alerts to (default 127.0.0.1:9093)" },
    webhook: { type: "string", placeholder: "URL", description: "prometheus: where every Alertmanager receiver posts (a messaging or SMS gateway)" },
    timing: {
      type: "string",
      placeholder: "PROFILE",
      default: "production",
      description: "prometheus: the alerts' durations: production, or rehearsal (scaled to seconds)",
    },
    checkins: { type: "boolean", description: "prometheus: scrape the gateways' check-in tables too (needs --stack: its CA)" },
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
    const { out, stack, blackbox, alertmanager, webhook, timing } = args.values;
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
      ...(alertmanager === undefined ? {} : { alertmanager }),
      ...(webhook === undefined ? {} : { webhook: webhookOption(webhook) }),
      ...(args.values.checkins === true ? { checkins: true } : {}),
      timing: timingOption(timing),
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
    io.out(
      `wrote ${outcome.paths.length} files to ${displayPath(io, out)}: ${outcome.targets} targets, prometheus.yml, blackbox.yml, rules.yml, alertmanager.yml`,
    );
    for (const s of outcome.skipped) io.out(`  left out ${s.check} (${s.kind}): ${s.reason}`);
    return ExitCode.OK;
  },
});

function timingOption(value: string): "production" | "rehearsal" {
  if (value === "production" || value === "rehearsal") return value;
  throw new UsageError(`--timing is "${value.slice(0, 40)}"`, { hint: "write --timing production or --timing rehearsal" });
}

function webhookOption(value: string): string {
  if (webhookProblem(value) !== undefined) {
    // Never echo credentials: a URL that holds them is shown without.
    const shown = URL.canParse(value) ? ((u) => `${u.protocol}//${u.host}${u.pathname}`)(new URL(value)) : value.slice(0, 60);
    throw new UsageError(`--webhook "${shown}" is not an http(s) URL without credentials`, {
      hint: "e.g. --webhook https://sms.example.org/alertmanager; a token goes in the stack's amadegi:alerting.credentialsFile",
    });
  }
  return value;
}
