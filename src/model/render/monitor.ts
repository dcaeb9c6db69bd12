import {
  type AlertReceivers,
  type AlertTiming,
  isMonitoredLink,
  linkProbePeriod,
  PRODUCTION_TIMING,
  REHEARSAL_LINK_PINGS_PER_S,
  REHEARSAL_TIMING,
  renderAlertmanager,
  renderAlertRules,
  stretchTiming,
} from "../alerting.ts";
import { createHash } from "node:crypto";
import { LINK_PROBER_TARGETS, type MonitorCheck, type MonitorTarget, renderMonitoring } from "../monitoring.ts";
import type { Inventory, Role, Server } from "../types.ts";
import { assetPath, assetText, LOG_DIR, MONITOR_FILES as M, rooted, RUN_DIR, TLS_FILES } from "./paths.ts";
import { daemon } from "./service.ts";
import type { RenderedFile, RoleRender, ServerTarget } from "./types.ts";

/**
 * The monitor role: Prometheus scrapes the central servers through a
 * blackbox_exporter on the same server, and the live links' paths of its stations (every
 * station's, up to MONITORS_PER_STATION monitors; ADR 0013) through the link prober's rounds
 * (one fping for all of them, served by a node_exporter's textfile collector: one scrape, not
 * one per link), with the modules, targets and jobs src/model/monitoring.ts renders (the same renderer as `amadegi export
 * prometheus`). Provisioning cannot read the check catalog (it lives in
 * probe/, ADR 0001), so the central checks are declared here as plain data;
 * test/model/render/monitor.test.ts keeps them equal to checks/central.yaml.
 */

export interface CentralCheck extends MonitorCheck {
  /** Servers with any of these roles (all servers when absent). */
  readonly roles?: readonly Role[];
  /** The port probed (ssh: each server's ssh.port). */
  readonly port?: number;
}

/** checks/central.yaml's server checks, as far as monitoring reads them. */
export const CENTRAL_CHECKS: readonly CentralCheck[] = [
  { id: "server-icmp", kind: "icmp", timeoutMs: 2000, params: { count: 3 }, conditions: [] },
  {
    id: "gateway-https",
    kind: "http",
    timeoutMs: 3000,
    roles: ["gateway"],
    port: 443,
    params: { scheme: "https", path: "/health" },
    conditions: [
      { placeholder: "STATUS", op: "==", value: { kind: "number", value: 200 } },
      { placeholder: "BODY", op: "contains", value: { kind: "string", value: "ok" } },
    ],
  },
  { id: "auth-tls", kind: "tls", timeoutMs: 2000, roles: ["auth"], port: 443, params: {}, conditions: [] },
  { id: "dns-answers", kind: "dns", timeoutMs: 2000, roles: ["dns"], port: 53, params: { name: "auth.election.ir" }, conditions: [] },
  { id: "ntp-offset", kind: "ntp", timeoutMs: 2000, roles: ["ntp"], port: 123, params: {}, conditions: [] },
  { id: "server-ssh", kind: "ssh", timeoutMs: 2000, params: {}, conditions: [] },
];

/**
 * checks/links.yaml's path check, as far as monitoring reads it: every live link's address answers
 * ping. The alerting rules' link paths (src/model/alerting.ts) read it. The catalog's other link
 * checks stay the campaigns': the management port and the check-ins say more of a station than of its path.
 */
export const LINK_CHECK: MonitorCheck = { id: "link-icmp", kind: "icmp", timeoutMs: 2000, params: { count: 3 }, conditions: [] };

/** How many monitors probe each station's links, and each central server, where the inventory has that many (ADR 0013). */
export const MONITORS_PER_STATION = 2;

/**
 * The monitors that probe a station's links (ADR 0013): of the inventory's monitor servers, the
 * MONITORS_PER_STATION whose sha256(monitor, station) is highest (rendezvous hashing). Every monitor
 * when there are no more than that. A station's links stay together (its rules read them all); a
 * monitor added or removed moves only the stations it takes or had, and an edit of other stations
 * moves none.
 */
export function stationMonitors(stationId: string, monitors: readonly string[]): string[] {
  if (monitors.length <= MONITORS_PER_STATION) return [...monitors];
  return monitors
    .map((id) => ({ id, score: createHash("sha256").update(`${id}\0${stationId}`).digest("hex") }))
    .sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : 0))
    .slice(0, MONITORS_PER_STATION)
    .map((m) => m.id)
    .sort();
}

/**
 * The monitors that probe a central server (ADR 0013, "Central servers"): chosen as a station's are,
 * by the server's id. Every check of a server stays on the same monitors, so the server's own
 * alert still silences its services' there (AmadegiServerDown inhibits AmadegiCentralCheckFailing).
 */
export function serverMonitors(serverId: string, monitors: readonly string[]): string[] {
  return stationMonitors(`server\0${serverId}`, monitors);
}

/** The inventory's monitor servers, by id. */
export function monitorIds(inventory: Inventory): string[] {
  return inventory.servers
    .filter((s) => s.roles.includes("monitor"))
    .map((s) => s.id)
    .sort();
}

const assignments = new WeakMap<Inventory, ReadonlyMap<string, readonly string[]>>();

/** Each station's monitors (`stationMonitors`), computed once per inventory: every monitor's render reads them. */
function assignment(inventory: Inventory): ReadonlyMap<string, readonly string[]> {
  let map = assignments.get(inventory);
  if (map === undefined) {
    const monitors = monitorIds(inventory);
    map = new Map(inventory.stations.map((st) => [st.id, stationMonitors(st.id, monitors)]));
    assignments.set(inventory, map);
  }
  return map;
}

/**
 * Every live link with an address, as a target of LINK_CHECK (the probe's keys: `<check>/<station>/<link>`);
 * with `monitor`, only the links of the stations that monitor probes (`stationMonitors`).
 */
export function linkTargets(inventory: Inventory, monitor?: string): MonitorTarget[] {
  const targets: MonitorTarget[] = [];
  const probes = monitor === undefined ? undefined : assignment(inventory);
  for (const station of inventory.stations) {
    if (probes !== undefined && probes.get(station.id)?.includes(monitor ?? "") !== true) continue;
    for (const link of station.links) {
      if (!isMonitoredLink(link) || link.address === undefined) continue;
      targets.push({
        key: `${LINK_CHECK.id}/${station.id}/${link.id}`,
        check: LINK_CHECK.id,
        kind: LINK_CHECK.kind,
        station: station.id,
        link: link.id,
        district: station.district,
        operator: link.operator,
        medium: link.medium,
        address: link.address,
        params: { ...LINK_CHECK.params },
      });
    }
  }
  return targets;
}

/** Whether `monitor` probes a server, by id (`serverMonitors`); every server without a monitor named. */
function watchedBy(inventory: Inventory, monitor: string | undefined): (server: string) => boolean {
  if (monitor === undefined) return () => true;
  const monitors = monitorIds(inventory);
  return (server) => serverMonitors(server, monitors).includes(monitor);
}

/**
 * The central servers as monitoring targets of CENTRAL_CHECKS (the probe's keys: `<check>/<server>`);
 * with `monitor`, only the servers that monitor probes (`serverMonitors`).
 */
export function centralTargets(inventory: Inventory, monitor?: string): MonitorTarget[] {
  const targets: MonitorTarget[] = [];
  const watched = watchedBy(inventory, monitor);
  const servers = inventory.servers.filter((s) => watched(s.id));
  for (const check of CENTRAL_CHECKS) {
    for (const server of servers) {
      if (check.roles !== undefined && !check.roles.some((r) => server.roles.includes(r))) continue;
      const port = check.kind === "ssh" ? server.ssh.port : check.port;
      targets.push({
        key: `${check.id}/${server.id}`,
        check: check.id,
        kind: check.kind,
        server: server.id,
        address: server.address,
        ...(port === undefined ? {} : { port }),
        hostname: server.id,
        params: {
          ...check.params,
          ...(check.kind === "ssh" && server.ssh.hostKey !== undefined ? { hostKey: server.ssh.hostKey, user: server.ssh.user } : {}),
        },
      });
    }
  }
  return targets;
}

/** The link prober as this package ships it (ADR 0013, "The links' prober"). */
export const LINK_PROBER_ASSET = assetPath("link-prober.sh");

/** Where the node_exporter that serves the link prober's rounds listens (the textfile collector only), on the monitor's address. */
export const LINK_EXPORTER_PORT = 9119;
/** Milliseconds between two of the link prober's pings (fping -i; 1 ms is its floor without root): a round sends its links in as many. */
export const LINK_PROBER_SEND_MS = 1;

/**
 * The least time, in ms, a round of the link prober spends sending its pings (link-prober.sh's
 * SPREAD_MS). Under the rehearsal's profile, the round's period less its wait for the last replies:
 * its pings are spread over it, so the rehearsal's monitors keep to their pace while a round sends,
 * not only on average over the period (ADR 0013, amendment of 2026-12-06). Production's monitors are
 * servers of their own and send as fast as LINK_PROBER_SEND_MS allows (0).
 */
export function linkRoundSpread(timing: AlertTiming): number {
  return timing.name === "rehearsal" ? Math.max(0, linkProbePeriod(timing) * 1000 - LINK_CHECK.timeoutMs) : 0;
}

/**
 * How much later than a ping at the scrape a link's failure can reach a monitor's Prometheus, in
 * seconds: a round's period (the failure just missed one), then the round's sending (the busiest
 * monitor's links, LINK_PROBER_SEND_MS each, or the round's spread where that is longer) and its
 * wait for the last replies. A notification's bound (notificationBound) takes it as the links' probe time.
 */
export function linkProbeDelay(inventory: Inventory, timing: AlertTiming): number {
  const monitors = monitorIds(inventory);
  const busiest = Math.max(0, ...(monitors.length === 0 ? [linkTargets(inventory).length] : monitors.map((m) => linkTargets(inventory, m).length)));
  const sending = Math.max(busiest * LINK_PROBER_SEND_MS, linkRoundSpread(timing));
  return linkProbePeriod(timing) + Math.ceil((sending + LINK_CHECK.timeoutMs) / 1000);
}

/** Where the monitor's Alertmanager listens (on the server's address). */
export const ALERTMANAGER_PORT = 9093;

/** The monitor's Alertmanager as the monitor server itself reaches it (amtool: provisioning's silences, drift's reading of them). */
export function alertmanagerUrl(monitorAddress: string): string {
  return `http://${monitorAddress}:${ALERTMANAGER_PORT}`;
}

/** The rehearsal's notification receiver, on the monitor server's own address, when the stack names none. */
export const REHEARSAL_RECEIVER_PORT = 9095;

/**
 * Where the monitor's node_exporter for a time server listens: this port plus the server's place among
 * the inventory's time servers (by id). One exporter each: its ntp collector asks one server.
 * Not 9100, node_exporter's own, which a host may run already.
 */
export const TIME_EXPORTER_PORT = 9120;

/**
 * The inventory's time servers, each with where its exporter listens on the monitor's address; with
 * `monitor`, only those it probes (`serverMonitors`). A port stays the server's place among all of them.
 */
export function timeServerExporters(
  inventory: Inventory,
  monitorAddress: string,
  monitor?: string,
): { id: string; address: string; port: number; exporter: string }[] {
  const watched = watchedBy(inventory, monitor);
  return inventory.servers
    .filter((s) => s.roles.includes("ntp"))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((s, i) => ({ id: s.id, address: s.address, port: TIME_EXPORTER_PORT + i, exporter: `${monitorAddress}:${TIME_EXPORTER_PORT + i}` }))
    .filter((t) => watched(t.id));
}

/** The gateways whose check-in table a Prometheus scrapes (MonitoringOptions.checkinGateways): the monitor role's and export's. */
export function checkinGateways(inventory: Inventory): { id: string; address: string }[] {
  return inventory.servers.filter((s) => s.roles.includes("gateway")).map((s) => ({ id: s.id, address: s.address }));
}

/**
 * How many times slower than REHEARSAL_TIMING a rehearsal of this inventory runs its monitors: 1
 * while its live links, each pinged by MONITORS_PER_STATION monitors (or every monitor, when there
 * are fewer) once a scrape, make no more than REHEARSAL_LINK_PINGS_PER_S; otherwise the whole factor
 * that brings them under it (ADR 0013, "The rehearsal's pace"). The sample's is 1.
 */
export function rehearsalPace(inventory: Inventory): number {
  const monitors = inventory.servers.filter((s) => s.roles.includes("monitor")).length;
  let links = 0;
  for (const station of inventory.stations) for (const link of station.links) if (isMonitoredLink(link)) links++;
  const perSecond = (links * Math.min(Math.max(monitors, 1), MONITORS_PER_STATION)) / REHEARSAL_TIMING.scrapeInterval;
  return Math.max(1, Math.ceil(perSecond / REHEARSAL_LINK_PINGS_PER_S));
}

/** The timing profile a stack's monitors and alerts run on: production's, or the rehearsal's at this inventory's pace. */
export function alertTimingOf(inventory: Inventory, environment: ServerTarget["environment"]): AlertTiming {
  return environment === "rehearsal" ? stretchTiming(REHEARSAL_TIMING, rehearsalPace(inventory)) : PRODUCTION_TIMING;
}

export function renderMonitor(inventory: Inventory, server: Server, target: ServerTarget): RoleRender {
  const r = (p: string): string => rooted(target, p);
  const blackboxAt = `${target.address}:9115`;
  const linkExporterAt = `${target.address}:${LINK_EXPORTER_PORT}`;
  const alertmanagerAt = `${target.address}:${ALERTMANAGER_PORT}`;
  const timing = alertTimingOf(inventory, target.environment);
  const timeServers = timeServerExporters(inventory, target.address, server.id);
  const rendered = renderMonitoring(
    inventory,
    [...CENTRAL_CHECKS, LINK_CHECK],
    [...centralTargets(inventory, server.id), ...linkTargets(inventory, server.id)],
    {
      blackbox: blackboxAt,
      stack: target.environment,
      tls: { caFile: r(TLS_FILES.serversCa) },
      interval: `${timing.scrapeInterval}s`,
      evaluationInterval: `${timing.evaluationInterval}s`,
      ruleFiles: [r(M.rules)],
      alertmanagers: [alertmanagerAt],
      checkinGateways: checkinGateways(inventory),
      timeServers,
      linkProber: { exporter: linkExporterAt },
    },
  );
  // Without the stack's receivers: the rehearsal's own receiver; elsewhere none (Alertmanager keeps the alerts, tells no one: ADR 0009).
  const receivers: AlertReceivers | undefined =
    target.alerting ?? (target.environment === "rehearsal" ? { webhook: `http://${target.address}:${REHEARSAL_RECEIVER_PORT}/notify` } : undefined);
  // file_sd paths stay relative: Prometheus reads them beside prometheus.yml, under the root.
  const files: RenderedFile[] = [
    ...[...rendered.files.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([path, content]) => ({ path: `${M.dir}/${path}`, content, mode: 0o644 })),
    { path: M.rules, content: renderAlertRules(inventory, timing), mode: 0o644 },
    { path: M.linkProber, content: assetText("link-prober.sh", "link prober", M.linkProber), mode: 0o755 },
    { path: M.alertmanager, content: renderAlertmanager(inventory, timing, receivers), mode: 0o644 },
  ];
  const alertmanager = daemon(
    {
      name: "alertmanager",
      description: "routes the alerts to the technicians on call",
      dirs: [RUN_DIR, LOG_DIR, M.alertmanagerStorage],
      validate: ["amtool", "check-config", r(M.alertmanager)],
      // No cluster: one Alertmanager per monitor server, its own storage.
      argv: [
        "prometheus-alertmanager",
        `--config.file=${r(M.alertmanager)}`,
        `--storage.path=${r(M.alertmanagerStorage)}`,
        `--web.listen-address=${alertmanagerAt}`,
        "--cluster.listen-address=",
      ],
      forks: false,
      background: true,
      pidFile: M.alertmanagerPid,
      log: M.alertmanagerLog,
      mark: r(M.alertmanager),
      reload: "hup",
      listens: [{ proto: "tcp", address: target.address, port: ALERTMANAGER_PORT }],
      version: "prometheus-alertmanager --version 2>&1 | head -n 1",
      unit: { conflicts: ["prometheus-alertmanager.service"], writes: [M.alertmanagerStorage] },
    },
    target,
  );
  const prometheus = daemon(
    {
      name: "prometheus",
      description: "scrapes the central servers through the blackbox exporter and the links through the link prober's exporter",
      dirs: [RUN_DIR, LOG_DIR, M.storage],
      validate: ["promtool", "check", "config", r(M.prometheus)],
      argv: ["prometheus", `--config.file=${r(M.prometheus)}`, `--web.listen-address=${target.address}:9090`, `--storage.tsdb.path=${r(M.storage)}`],
      forks: false,
      background: true,
      pidFile: M.prometheusPid,
      log: M.prometheusLog,
      mark: r(M.prometheus),
      reload: "hup",
      listens: [{ proto: "tcp", address: target.address, port: 9090 }],
      version: "prometheus --version 2>&1 | head -n 1",
      unit: {
        conflicts: ["prometheus.service"],
        after: ["amadegi-blackbox.service", "amadegi-link-exporter.service", "amadegi-alertmanager.service"],
        writes: [M.storage],
      },
    },
    target,
  );
  const blackbox = daemon(
    {
      name: "blackbox",
      description: "probes the central servers for Prometheus",
      dirs: [RUN_DIR, LOG_DIR],
      validate: ["prometheus-blackbox-exporter", "--config.check", `--config.file=${r(M.blackbox)}`],
      argv: ["prometheus-blackbox-exporter", `--config.file=${r(M.blackbox)}`, `--web.listen-address=${blackboxAt}`],
      forks: false,
      background: true,
      pidFile: M.blackboxPid,
      log: M.blackboxLog,
      mark: r(M.blackbox),
      reload: "hup",
      listens: [{ proto: "tcp", address: target.address, port: 9115 }],
      version: "prometheus-blackbox-exporter --version 2>&1 | head -n 1",
      // ICMP probes need a raw socket.
      unit: { conflicts: ["prometheus-blackbox-exporter.service"], capabilities: ["CAP_NET_RAW"] },
    },
    target,
  );
  // The links: one fping round for all of them, written for a node_exporter's textfile collector (ADR 0013).
  const linkProber = daemon(
    {
      name: "link-prober",
      description: "pings the links of this monitor's stations each round for Prometheus (fping)",
      dirs: [RUN_DIR, LOG_DIR, M.linkTextfiles],
      validate: ["sh", "-n", r(M.linkProber)],
      argv: [
        "sh",
        r(M.linkProber),
        r(`${M.dir}/${LINK_PROBER_TARGETS}`),
        r(M.linkTextfiles),
        String(linkProbePeriod(timing)),
        String(LINK_CHECK.timeoutMs),
        String(LINK_PROBER_SEND_MS),
        String(linkRoundSpread(timing)),
      ],
      forks: false,
      background: true,
      pidFile: M.linkProberPid,
      log: M.linkProberLog,
      mark: r(M.linkProber),
      // It re-reads (and counts) its targets every round: only a new command line (another period) restarts it.
      reload: "restart",
      watch: [M.linkProber],
      listens: [],
      version: "fping -v 2>&1 | head -n 1",
      // ICMP needs a raw socket.
      unit: { capabilities: ["CAP_NET_RAW"], writes: [M.linkTextfiles] },
    },
    target,
  );
  const linkExporter = daemon(
    {
      name: "link-exporter",
      description: "serves the link prober's last round to Prometheus (node_exporter's textfile collector)",
      dirs: [RUN_DIR, LOG_DIR, M.linkTextfiles],
      // It reads no file of its own: its flags are all it has, and the version is what can be checked.
      validate: ["prometheus-node-exporter", "--version"],
      argv: [
        "prometheus-node-exporter",
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${r(M.linkTextfiles)}`,
        "--web.disable-exporter-metrics",
        `--web.listen-address=${linkExporterAt}`,
      ],
      forks: false,
      background: true,
      pidFile: M.linkExporterPid,
      log: M.linkExporterLog,
      mark: `--web.listen-address=${linkExporterAt}`,
      reload: "restart",
      listens: [{ proto: "tcp", address: target.address, port: LINK_EXPORTER_PORT }],
      version: "prometheus-node-exporter --version 2>&1 | head -n 1",
    },
    target,
  );
  // One node_exporter per time server, only its ntp collector (blackbox_exporter has no NTP prober).
  const clocks = timeServers.map((t) =>
    daemon(
      {
        name: `ntp-exporter-${t.id}`,
        description: `reads time server ${t.id}'s clock for Prometheus (node_exporter's ntp collector)`,
        dirs: [RUN_DIR, LOG_DIR],
        // It reads no file: its flags are all it has, and the version is what can be checked.
        validate: ["prometheus-node-exporter", "--version"],
        argv: [
          "prometheus-node-exporter",
          "--collector.disable-defaults",
          "--collector.ntp",
          `--collector.ntp.server=${t.address}`,
          // The election's own time server, not a public one (the collector refuses others without this).
          "--collector.ntp.server-is-local",
          // Across the data centre's routers (the default, 1, stops at the first).
          "--collector.ntp.ip-ttl=64",
          "--web.disable-exporter-metrics",
          `--web.listen-address=${t.exporter}`,
        ],
        forks: false,
        background: true,
        pidFile: `${RUN_DIR}/ntp-exporter-${t.id}.pid`,
        log: `${LOG_DIR}/ntp-exporter-${t.id}.log`,
        // Its listen address names it: no file of its own is on its command line.
        mark: `--web.listen-address=${t.exporter}`,
        reload: "restart",
        listens: [{ proto: "tcp", address: target.address, port: t.port }],
        version: "prometheus-node-exporter --version 2>&1 | head -n 1",
      },
      target,
    ),
  );
  return {
    server: server.id,
    role: "monitor",
    files: [
      ...files,
      ...blackbox.files,
      ...linkProber.files,
      ...linkExporter.files,
      ...alertmanager.files,
      ...clocks.flatMap((c) => c.files),
      ...prometheus.files,
    ],
    services: [blackbox.service, linkProber.service, linkExporter.service, alertmanager.service, ...clocks.map((c) => c.service), prometheus.service],
    stations: [],
  };
}
