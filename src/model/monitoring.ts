import { dump } from "js-yaml";
import type { Inventory, Station, Technician } from "./types.ts";
import { dataRecord } from "../lib/records.ts";
import { openMetricsLabelValue } from "../lib/encode.ts";

/**
 * The hand-over to continuous monitoring: the inventory's probe targets as
 * Prometheus `file_sd` files, blackbox_exporter modules for the catalog's
 * checks, and a prometheus.yml that scrapes them through the exporter.
 *
 * It lives in the model, not in probe/ or the CLI, because two callers need it:
 * `amadegi export prometheus` today and the Pulumi monitor role later, and
 * provisioning may import the model but never probe/ (ADR 0001). So it takes
 * plain data, not the catalog's types: a probe `Target` and a catalog `Check`
 * fit `MonitorTarget` and `MonitorCheck` as they are. Pure: returns file
 * contents by relative path; the caller writes them.
 */

export interface MonitorCheck {
  readonly id: string;
  readonly kind: string;
  readonly timeoutMs: number;
  readonly params: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** A condition's operand; a pattern's `re2` is how blackbox_exporter reads it (the catalog translates it, src/probe/catalog/re2.ts). */
  readonly conditions: readonly {
    readonly placeholder: string;
    readonly op: string;
    readonly value: { readonly kind: string; readonly value?: unknown; readonly re2?: string };
  }[];
}

export interface MonitorTarget {
  readonly key: string;
  readonly check: string;
  readonly kind: string;
  readonly address: string;
  readonly port?: number;
  readonly hostname?: string;
  readonly params: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly station?: string;
  readonly link?: string;
  readonly server?: string;
  readonly district?: string;
  readonly operator?: string;
  readonly medium?: string;
}

export interface MonitoringOptions {
  /** host:port of the blackbox_exporter Prometheus scrapes (default 127.0.0.1:9115). */
  readonly blackbox?: string;
  /** The stack the targets belong to (a label on every target). */
  readonly stack?: string;
  /** Files (CA bundle, client certificate and key) as the exporter's host sees them. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** Scrape interval (default 60s). */
  readonly interval?: string;
  /** Rule evaluation interval (default: the scrape interval). */
  readonly evaluationInterval?: string;
  /** Rule files prometheus.yml names (relative to it, or absolute). */
  readonly ruleFiles?: readonly string[];
  /** host:port of each Alertmanager the alerts are sent to. */
  readonly alertmanagers?: readonly string[];
  /**
   * Gateways whose check-in table Prometheus scrapes as metrics (GET https://<address>:443/metrics,
   * verified with `tls.caFile` under the gateway's id, a name of its certificate): one job each.
   */
  readonly checkinGateways?: readonly { readonly id: string; readonly address: string }[];
  /**
   * Time servers whose clock Prometheus reads through a node_exporter's ntp collector (one exporter
   * per server, at `exporter` host:port): one job, each target labelled as the server's ntp check.
   */
  readonly timeServers?: readonly { readonly id: string; readonly exporter: string }[];
  /**
   * The links' ICMP targets through amadegi's link prober instead of blackbox_exporter (ADR 0013,
   * "The links' prober"): LINK_PROBER_TARGETS lists each link's address and labels, the prober pings
   * them all each round and writes their probe_success for node_exporter's textfile collector at
   * `exporter` (host:port), and Prometheus scrapes that once: one scrape for every link, not one per
   * link. Without it (`amadegi export prometheus`) links go through blackbox_exporter as the rest.
   */
  readonly linkProber?: { readonly exporter: string };
}

/** The link prober's targets, beside prometheus.yml: `<address>\t<labels>` a line (MonitoringOptions.linkProber). */
export const LINK_PROBER_TARGETS = "links.tsv";

/** The label the prober's exporter's own series carry (their file's age: AmadegiLinkProberStale); the links' keep theirs. */
export const LINK_PROBER_SCOPE = "prober";

/** The catalog's clock check, as the time servers' job labels its targets (the rules read scope and check). */
export const TIME_CHECK = { id: "ntp-offset", kind: "ntp", role: "ntp" } as const;

export interface MonitoringFiles {
  /** Relative path → content: prometheus.yml, blackbox.yml, targets/<check>.json. */
  readonly files: ReadonlyMap<string, string>;
  /** Checks blackbox_exporter cannot run (ntp, check-ins), and why. */
  readonly skipped: readonly { readonly check: string; readonly kind: string; readonly reason: string }[];
  readonly targets: number;
}

/** What blackbox_exporter cannot do, by probe kind. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  ntp: "blackbox_exporter has no NTP prober (the monitor role reads each time server through node_exporter's ntp collector)",
  checkin: "device check-ins are read from the gateways' logs, not probed (the gateway exports them)",
};

type Module = Record<string, unknown>;

export function renderMonitoring(
  inventory: Inventory,
  checks: readonly MonitorCheck[],
  targets: readonly MonitorTarget[],
  options: MonitoringOptions = {},
): MonitoringFiles {
  const files = new Map<string, string>();
  const modules = dataRecord<Module>();
  const skipped: { check: string; kind: string; reason: string }[] = [];
  const jobs: Record<string, unknown>[] = [];
  const byCheck = new Map<string, MonitorTarget[]>();
  for (const t of targets) {
    const list = byCheck.get(t.check);
    if (list === undefined) byCheck.set(t.check, [t]);
    else list.push(t);
  }
  let count = 0;
  for (const check of checks) {
    const reason = UNSUPPORTED[check.kind];
    if (reason !== undefined) {
      skipped.push({ check: check.id, kind: check.kind, reason });
      continue;
    }
    const all = byCheck.get(check.id) ?? [];
    const probed = options.linkProber !== undefined && check.kind === "icmp" ? all.filter((t) => t.link !== undefined) : [];
    if (probed.length > 0 && options.linkProber !== undefined) {
      if (files.has(LINK_PROBER_TARGETS)) throw new Error(`check ${check.id}: the link prober already pings another check's links`);
      files.set(LINK_PROBER_TARGETS, proberTargets(probed, inventory, options.stack));
      jobs.push(proberJob(check, options.linkProber.exporter, options.stack));
      count += probed.length;
    }
    const own = probed.length === 0 ? all : all.filter((t) => t.link === undefined);
    if (own.length === 0) continue;
    const base = `amadegi_${check.id.replace(/[^A-Za-z0-9]/g, "_")}`;
    // A TLS name is per module in blackbox_exporter: one module per distinct name.
    const named = check.kind === "tls" || (check.kind === "http" && check.params.scheme === "https");
    const nameOf = (t: MonitorTarget): string => (named ? (t.hostname ?? "") : "");
    const hostnames = [...new Set(own.map(nameOf))].sort();
    const moduleFor = new Map<string, string>();
    for (const hostname of hostnames) {
      const name = hostnames.length === 1 ? base : `${base}__${hostname.replace(/[^A-Za-z0-9]/g, "_")}`;
      modules[name] = moduleOf(check, hostname === "" ? undefined : hostname, options);
      moduleFor.set(hostname, name);
    }
    const groups = own.map((t) => ({
      targets: [address(check, t)],
      labels: { ...labelsOf(t, inventory, options.stack), __param_module: moduleFor.get(nameOf(t)) ?? base },
    }));
    count += groups.length;
    files.set(`targets/${check.id}.json`, `[\n${groups.map((g) => JSON.stringify(g)).join(",\n")}\n]\n`);
    jobs.push({
      job_name: `amadegi-${check.id}`,
      metrics_path: "/probe",
      scrape_timeout: `${Math.max(1, Math.ceil(check.timeoutMs / 1000) + 1)}s`,
      file_sd_configs: [{ files: [`targets/${check.id}.json`] }],
      ...(check.kind === "icmp" ? { metric_relabel_configs: ICMP_SILENT_SERIES } : {}),
      relabel_configs: [
        { source_labels: ["__address__"], target_label: "__param_target" },
        { source_labels: ["__param_target"], target_label: "instance" },
        { target_label: "__address__", replacement: options.blackbox ?? "127.0.0.1:9115" },
      ],
    });
  }
  for (const gw of options.checkinGateways ?? []) {
    jobs.push({
      job_name: `amadegi-checkins-${gw.id}`,
      scheme: "https",
      metrics_path: "/metrics",
      tls_config: { ...(options.tls?.caFile === undefined ? {} : { ca_file: options.tls.caFile }), server_name: gw.id },
      static_configs: [
        {
          targets: [`${gw.address}:443`],
          labels: { scope: "checkin", gateway: gw.id, server: gw.id, ...(options.stack === undefined ? {} : { stack: options.stack }) },
        },
      ],
    });
  }
  if ((options.timeServers ?? []).length > 0) {
    jobs.push({
      job_name: `amadegi-${TIME_CHECK.id}`,
      static_configs: (options.timeServers ?? []).map((t) => ({
        targets: [t.exporter],
        labels: {
          scope: "central",
          server: t.id,
          role: TIME_CHECK.role,
          check: TIME_CHECK.id,
          kind: TIME_CHECK.kind,
          ...(options.stack === undefined ? {} : { stack: options.stack }),
        },
      })),
    });
  }
  const interval = options.interval ?? "60s";
  const header = "# Generated by `amadegi export prometheus` from the inventory and checks/: do not edit.\n";
  files.set("blackbox.yml", header + dump({ modules }, { lineWidth: -1 }));
  const prometheus = {
    global: { scrape_interval: interval, evaluation_interval: options.evaluationInterval ?? interval },
    ...(options.ruleFiles === undefined ? {} : { rule_files: [...options.ruleFiles] }),
    ...(options.alertmanagers === undefined ? {} : { alerting: { alertmanagers: [{ static_configs: [{ targets: [...options.alertmanagers] }] }] } }),
    scrape_configs: jobs,
  };
  files.set("prometheus.yml", header + dump(prometheus, { lineWidth: -1 }));
  return { files, skipped, targets: count };
}

/**
 * What blackbox_exporter's icmp prober says of a target that is an address and tells nothing (a
 * central server's ping; a link's where links are blackbox targets, as `amadegi export prometheus` writes them):
 * no name is looked up, the address and protocol are the target's own, the resolve and setup
 * phases are empty, and the hop limit is the route's, which no one acts on. Dropped at the scrape:
 * a link target keeps 8 series of 14, each carrying the station's labels, in the TSDB, its WAL and
 * every query. Kept: success, the probe's duration and the round trip (`phase="rtt"`), which say
 * whether and how well a path answers. Prometheus's memory per target is mostly the target's own
 * (its scrape loop's stack and gzip reader), so memory fell 3 % only (2,000 stations; ADR 0013).
 */
export const ICMP_SILENT_SERIES: readonly Readonly<Record<string, unknown>>[] = [
  { source_labels: ["__name__"], regex: "probe_(dns_lookup_time_seconds|ip_addr_hash|ip_protocol|icmp_reply_hop_limit)", action: "drop" },
  { source_labels: ["__name__", "phase"], regex: "probe_icmp_duration_seconds;(resolve|setup)", action: "drop" },
];

/**
 * The prober's targets: a line per link, its address, a tab and its labels as Prometheus's text
 * format writes them (`name="value",…`), the same labels a blackbox target of it carries, escaped
 * (`\\`, `\"`, `\n`). Every line names every label, empty where a link has none (Prometheus
 * drops an empty label): node_exporter refuses a metric whose samples differ in their label names.
 * An address is the schema's IPv4 address, so the tab and the line end are the prober's alone.
 */
function proberTargets(targets: readonly MonitorTarget[], inventory: Inventory, stack: string | undefined): string {
  const labelled = targets.map((t) => ({ address: t.address, labels: labelsOf(t, inventory, stack) }));
  const names = [...new Set(labelled.flatMap((l) => Object.keys(l.labels)))].sort();
  const lines = labelled.map((l) => {
    if (/[\t\n\r]/.test(l.address)) throw new Error(`link target ${l.address}: an address has no tab or line end`);
    return `${l.address}\t${names.map((n) => `${n}="${openMetricsLabelValue(l.labels[n] ?? "")}"`).join(",")}\n`;
  });
  return lines.join("");
}

/**
 * Prometheus's job for the prober's exporter: its labels are the file's own (honor_labels: the file is
 * amadegi's, rendered above), so a link's probe_success keeps `scope="link"` and the station's labels as
 * a blackbox target's has them, and the rules read it the same. Only what the rules read is kept: the links'
 * success and the file's age, which the job's own `scope` names.
 */
function proberJob(check: MonitorCheck, exporter: string, stack: string | undefined): Record<string, unknown> {
  return {
    job_name: `amadegi-${check.id}`,
    honor_labels: true,
    static_configs: [{ targets: [exporter], labels: { scope: LINK_PROBER_SCOPE, check: check.id, ...(stack === undefined ? {} : { stack }) } }],
    metric_relabel_configs: [{ source_labels: ["__name__"], regex: "probe_success|node_textfile_mtime_seconds|node_textfile_scrape_error", action: "keep" }],
  };
}

function labelsOf(t: MonitorTarget, inventory: Inventory, stack: string | undefined): Record<string, string> {
  // scope: what the alerting rules (alerting.ts) select by, so no selector ever holds a check's id.
  const scope = t.link !== undefined ? "link" : t.server !== undefined ? "central" : "station";
  const labels: Record<string, string> = { check: t.check, kind: t.kind, scope };
  if (stack !== undefined) labels.stack = stack;
  for (const k of ["station", "link", "district", "operator", "medium", "server"] as const) {
    const v = t[k];
    if (v !== undefined) labels[k] = v;
  }
  if (t.district !== undefined) {
    const province = inventory.districtsById.get(t.district)?.province;
    if (province !== undefined) labels.province = province;
  }
  const station = t.station === undefined ? undefined : inventory.stationsById.get(t.station);
  const serverId = t.server ?? (station === undefined ? undefined : typeof t.params.gateway === "string" ? t.params.gateway : station.gateways.primary);
  const server = serverId === undefined ? undefined : inventory.serversById.get(serverId);
  if (t.server !== undefined && server !== undefined) {
    labels.role = server.roles.join(",");
    labels.site = server.site;
  } else if (station !== undefined) {
    // A link's gateway is the server its traffic reaches first.
    labels.gateway = station.gateways.primary;
    labels.station_kind = station.kind;
    const onCall = onCallOf(inventory, station);
    if (onCall !== undefined) {
      labels.oncall = onCall.name;
      labels.oncall_phone = onCall.phone;
    }
  }
  const link = t.link === undefined ? undefined : inventory.linksById.get(t.link)?.link;
  if (link !== undefined) {
    labels.pop = link.pop;
    labels.owner = link.lifecycle.owner;
  }
  return labels;
}

/** The technician on call for a station's network: its county's first with the role `network`, else its first. */
function onCallOf(inventory: Inventory, station: Station): Technician | undefined {
  const county = inventory.districtsById.get(station.district)?.counties.find((c) => c.id === station.county);
  const technicians = county?.technicians ?? [];
  return technicians.find((t) => t.role === "network") ?? technicians[0];
}

/** What blackbox_exporter is given as `target`: an address, host:port, or a URL. */
function address(check: MonitorCheck, t: MonitorTarget): string {
  if (check.kind === "icmp") return t.address;
  if (check.kind === "http") {
    const scheme = check.params.scheme === "https" ? "https" : "http";
    const path = typeof check.params.path === "string" ? check.params.path : "/";
    return `${scheme}://${t.address}${t.port === undefined ? "" : `:${t.port}`}${path}`;
  }
  return `${t.address}:${t.port ?? 0}`;
}

function seconds(ms: number): string {
  return `${Math.max(0.1, ms / 1000)}s`;
}

function tlsConfig(check: MonitorCheck, hostname: string | undefined, options: MonitoringOptions): Record<string, string> {
  const param = (name: string): string | undefined => (typeof check.params[name] === "string" ? (check.params[name] as string) : undefined);
  const ca = param("ca") ?? options.tls?.caFile;
  const cert = param("cert") ?? options.tls?.certFile;
  const key = param("key") ?? options.tls?.keyFile;
  return {
    ...(hostname === undefined ? {} : { server_name: hostname }),
    ...(ca === undefined ? {} : { ca_file: ca }),
    ...(cert === undefined ? {} : { cert_file: cert }),
    ...(key === undefined ? {} : { key_file: key }),
  };
}

function moduleOf(check: MonitorCheck, hostname: string | undefined, options: MonitoringOptions): Module {
  const timeout = seconds(check.timeoutMs);
  const ip4 = { preferred_ip_protocol: "ip4", ip_protocol_fallback: false };
  switch (check.kind) {
    case "icmp":
      return { prober: "icmp", timeout, icmp: ip4 };
    case "tcp":
      return { prober: "tcp", timeout, tcp: ip4 };
    case "ssh":
      return { prober: "tcp", timeout, tcp: { ...ip4, query_response: [{ expect: "^SSH-2.0-" }] } };
    case "tls":
      return { prober: "tcp", timeout, tcp: { ...ip4, tls: true, tls_config: tlsConfig(check, hostname, options) } };
    case "http": {
      const statuses = check.conditions
        .filter((c) => c.placeholder === "STATUS" && c.op === "==" && c.value.kind === "number")
        .map((c) => Number(c.value.value));
      const bodies = check.conditions.filter((c) => c.placeholder === "BODY" && (c.op === "contains" || c.op === "matches"));
      const http: Record<string, unknown> = {
        ...ip4,
        method: typeof check.params.method === "string" ? check.params.method : "GET",
        ...(statuses.length === 0 ? {} : { valid_status_codes: statuses }),
        ...(bodies.length === 0
          ? {}
          : {
              fail_if_body_not_matches_regexp: bodies.map((c) => c.value.re2 ?? escapeRegex(String(c.value.value))),
            }),
        ...(hostname === undefined ? {} : { headers: { Host: hostname } }),
      };
      if (check.params.scheme === "https") {
        http.fail_if_not_ssl = true;
        http.tls_config = tlsConfig(check, hostname, options);
      }
      return { prober: "http", timeout, http };
    }
    case "dns":
      return {
        prober: "dns",
        timeout,
        dns: {
          ...ip4,
          transport_protocol: "udp",
          query_name: String(check.params.name ?? ""),
          query_type: typeof check.params.type === "string" ? check.params.type : "A",
          valid_rcodes: ["NOERROR"],
        },
      };
    default:
      return { prober: "tcp", timeout, tcp: ip4 };
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
