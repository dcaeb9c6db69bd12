import { createHash } from "node:crypto";
import { dump } from "js-yaml";
import { alertmanagerMatcher } from "../lib/encode.ts";
import { addDays, midnightIn } from "./dates.ts";
import { LINK_PROBER_SCOPE } from "./monitoring.ts";
import type { Inventory, Link } from "./types.ts";

/**
 * Alerting from the inventory: Prometheus rules and an Alertmanager
 * configuration that tell the technician on call, once per cause.
 *
 * The series the rules read are the blackbox probes src/model/monitoring.ts
 * renders; every target carries the inventory's labels there (`scope`, station,
 * link, operator, pop, district, the technician on call), so names and ids reach
 * an alert as labels only: the rules' selectors and templates are fixed text
 * (`{{ $labels.x }}`), never built from data. Each cause is its own aggregate
 * rule (an operator's outage, a lost point of presence, a lost server) and
 * Alertmanager's inhibition silences the symptoms it explains; `timingProblems`
 * holds the inequalities that make the inhibition hold in time (docs/monitoring.md).
 *
 * Pure: returns file contents; the monitor role and `amadegi export prometheus` write them.
 */

/** Every duration in seconds. */
export interface AlertTiming {
  readonly name: "production" | "rehearsal";
  readonly scrapeInterval: number;
  readonly evaluationInterval: number;
  /** How long a link path fails before it is an alert, by medium (mobile flaps more than fiber). */
  readonly linkFor: Readonly<Record<Link["medium"], number>>;
  /** A station with no working path. */
  readonly stationFor: number;
  /** An operator's outage, a lost point of presence: no longer than the links' minus a scrape. */
  readonly causeFor: number;
  /** A central service (a server's check). */
  readonly centralFor: number;
  /** A central server that answers nothing (the cause of its services' alerts). */
  readonly serverFor: number;
  /** A certificate that lapses before election day ends. */
  readonly certificateFor: number;
  /** A station whose device has not checked in at any gateway for this long, though a path of it answers. */
  readonly checkinSilence: number;
  /** ...for this long: longer than the devices' interval, so a device that just regained its path is not told. */
  readonly checkinFor: number;
  /** A cause keeps firing this long after it cleared, so the last symptoms stay silenced while they clear. */
  readonly keepFiringFor: number;
  readonly groupWait: number;
  readonly groupInterval: number;
  readonly repeatInterval: number;
}

export const PRODUCTION_TIMING: AlertTiming = {
  name: "production",
  scrapeInterval: 30,
  evaluationInterval: 30,
  linkFor: { fiber: 120, copper: 120, radio: 180, mobile: 180, satellite: 300 },
  stationFor: 60,
  causeFor: 60,
  centralFor: 60,
  serverFor: 60,
  certificateFor: 300,
  checkinSilence: 1200,
  checkinFor: 600,
  keepFiringFor: 90,
  groupWait: 60,
  groupInterval: 120,
  repeatInterval: 4 * 3600,
};

/**
 * The rehearsal's scaled profile: the same inequalities, seconds instead of minutes (drills stay short).
 * The scrape interval is not scaled as far as the rest: the sample's monitor pings its 2,831 links
 * through blackbox_exporter, and evaluates rules over as many series: at 5 s both took more than a
 * core of a 2-core machine and starved the campaigns beside them (docs/monitoring.md, "The rehearsal's cost").
 */
export const REHEARSAL_TIMING: AlertTiming = {
  name: "rehearsal",
  scrapeInterval: 15,
  evaluationInterval: 10,
  linkFor: { fiber: 40, copper: 40, radio: 45, mobile: 45, satellite: 60 },
  stationFor: 15,
  causeFor: 15,
  centralFor: 15,
  serverFor: 15,
  certificateFor: 15,
  checkinSilence: 60,
  checkinFor: 30,
  keepFiringFor: 25,
  groupWait: 25,
  groupInterval: 30,
  repeatInterval: 3600,
};

/**
 * The most link pings a second the rehearsal's monitors make together. They all run on the one
 * machine that hosts the whole rehearsal, beside the servers, the devices and the campaigns, and each
 * ping costs about 1.5 ms of its CPU (blackbox_exporter and Prometheus; `npm run bench:monitor`). The
 * sample (2,831 live links, one monitor, a scrape every 15 s) makes 189; a larger rehearsal is paced
 * down to this, as its devices check in at a fixed rate (ADR 0013, "The rehearsal's pace").
 */
export const REHEARSAL_LINK_PINGS_PER_S = 200;

/**
 * How many rounds a monitor's link prober makes per scrape interval (ADR 0013, "The links' prober"):
 * Prometheus reads a link's last round, so a failure reaches it up to a round's period and the round's
 * own time later than a ping at the scrape would (the notification's bound grows by that). Rounds no
 * longer than a scrape keep two links of one cause seen at most a scrape apart, as a scrape's targets
 * were: timingProblems' inequalities hold unchanged.
 */
export const LINK_ROUNDS_PER_SCRAPE = 3;

/** Seconds from the start of one of the link prober's rounds to the next's. */
export function linkProbePeriod(t: AlertTiming): number {
  return Math.max(1, Math.floor(t.scrapeInterval / LINK_ROUNDS_PER_SCRAPE));
}

/** The link prober's file older than this (three scrapes), or unreadable, is AmadegiLinkProberStale. */
export function linkProberStaleAfter(t: AlertTiming): number {
  return 3 * t.scrapeInterval;
}

/**
 * Every duration of a profile times a whole factor: a profile that holds (timingProblems) still
 * holds, each inequality scaled as a whole. The name stays: it is still that profile, slower.
 */
export function stretchTiming(t: AlertTiming, factor: number): AlertTiming {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`a timing is stretched by a whole factor ≥ 1, not ${factor}`);
  if (factor === 1) return t;
  const k = (s: number) => s * factor;
  return {
    name: t.name,
    scrapeInterval: k(t.scrapeInterval),
    evaluationInterval: k(t.evaluationInterval),
    linkFor: {
      fiber: k(t.linkFor.fiber),
      copper: k(t.linkFor.copper),
      radio: k(t.linkFor.radio),
      mobile: k(t.linkFor.mobile),
      satellite: k(t.linkFor.satellite),
    },
    stationFor: k(t.stationFor),
    causeFor: k(t.causeFor),
    centralFor: k(t.centralFor),
    serverFor: k(t.serverFor),
    certificateFor: k(t.certificateFor),
    checkinSilence: k(t.checkinSilence),
    checkinFor: k(t.checkinFor),
    keepFiringFor: k(t.keepFiringFor),
    groupWait: k(t.groupWait),
    groupInterval: k(t.groupInterval),
    repeatInterval: k(t.repeatInterval),
  };
}

/**
 * Why a profile would let a symptom through before its cause, or release a burst
 * after it (empty when it holds):
 * - a cause's threshold is seen up to one scrape interval after the first of its
 *   links failed, and its `for:` starts at the evaluation after that: it must wait a
 *   scrape and an evaluation less than the quickest link, so it fires first. `group_wait`
 *   cannot be relied on for this: it holds only a new group, and a district's link group
 *   lives as long as one of its links is down (a blind spot), flushing every `group_interval`;
 * - a new group waits `group_wait`, at least two evaluations;
 * - causes of one another (an operator's outage and its lost PoPs, a server and its own checks) share
 *   their `for:`, and one may be seen a scrape and an evaluation after the other (its threshold reached
 *   later in the interval): the one explained waits `group_wait` in a group of its own (the escalation
 *   route groups by operator, PoP and server), at least a scrape and an evaluation, so its cause has
 *   reached Alertmanager and inhibits it at the first flush;
 * - when a cause clears, its last links clear within a scrape and an evaluation:
 *   `keep_firing_for` covers that.
 */
export function timingProblems(t: AlertTiming): string[] {
  const problems: string[] = [];
  const quickest = Math.min(...Object.values(t.linkFor));
  if (t.causeFor + t.scrapeInterval + t.evaluationInterval > quickest) {
    problems.push(`causeFor ${t.causeFor}s + scrape ${t.scrapeInterval}s + evaluation ${t.evaluationInterval}s exceeds the quickest link's for ${quickest}s`);
  }
  if (t.serverFor > t.centralFor) problems.push(`serverFor ${t.serverFor}s exceeds centralFor ${t.centralFor}s`);
  if (t.groupWait < 2 * t.evaluationInterval) problems.push(`groupWait ${t.groupWait}s is less than two evaluations (${2 * t.evaluationInterval}s)`);
  if (t.groupWait < t.scrapeInterval + t.evaluationInterval) {
    problems.push(`groupWait ${t.groupWait}s is less than a scrape and an evaluation (${t.scrapeInterval + t.evaluationInterval}s)`);
  }
  if (t.keepFiringFor < t.scrapeInterval + t.evaluationInterval) {
    problems.push(`keepFiringFor ${t.keepFiringFor}s is less than a scrape and an evaluation (${t.scrapeInterval + t.evaluationInterval}s)`);
  }
  if (t.groupInterval < t.groupWait) problems.push(`groupInterval ${t.groupInterval}s is less than groupWait ${t.groupWait}s`);
  return problems;
}

/** An operator's outage: at least this share of its links down, and at least OUTAGE_MIN_LINKS of them. */
export const OUTAGE_SHARE = 0.5;
export const OUTAGE_MIN_LINKS = 3;
/** A lost point of presence: every one of its links down, and at least this many. */
export const POP_MIN_LINKS = 2;

/** A link the monitor probes and the rules read: live, with an address. */
export function isMonitoredLink(link: Link): boolean {
  return link.lifecycle.state === "live" && link.address !== undefined;
}

/** The labels every probe target carries (monitoring.ts) that the rules below read. */
const STATION_LABELS = ["stack", "station", "station_kind", "district", "province", "gateway", "oncall", "oncall_phone"];
const LINK_LABELS = [...STATION_LABELS, "link", "medium", "operator", "pop", "owner"];
/** Every series the rules read, as a selector: where the monitor runs, each must exist (a rehearsal test asks Prometheus). */
export const RULE_SERIES: readonly string[] = [
  'probe_success{scope="link"}',
  `node_textfile_mtime_seconds{scope="${LINK_PROBER_SCOPE}"}`,
  'probe_success{scope="central"}',
  'probe_success{scope="central", kind="icmp"}',
  'probe_ssl_earliest_cert_expiry{scope="central"}',
  "amadegi_checkin_last_timestamp_seconds",
  'node_ntp_offset_seconds{scope="central"}',
  'node_ntp_stratum{scope="central"}',
  'node_ntp_leap{scope="central"}',
  'node_scrape_collector_success{scope="central", collector="ntp"}',
  "amadegi_device_crl_next_update_timestamp_seconds",
];

/** A time server further than this from the monitor's clock is skewed (checks/central.yaml's ntp-offset fails at 250 ms). */
export const CLOCK_OFFSET_LIMIT_SECONDS = 0.25;

/** An alert's labels a district's receiver and the inhibitions compare. */
export const INHIBITIONS: readonly { readonly cause: string; readonly target: string; readonly equal: readonly string[] }[] = [
  { cause: "AmadegiOperatorOutage", target: "AmadegiLinkDown", equal: ["stack", "operator"] },
  { cause: "AmadegiOperatorOutage", target: "AmadegiPopLost", equal: ["stack", "operator"] },
  { cause: "AmadegiPopLost", target: "AmadegiLinkDown", equal: ["stack", "operator", "pop"] },
  { cause: "AmadegiServerDown", target: "AmadegiCentralCheckFailing", equal: ["stack", "server"] },
];

const s = (seconds: number): string => `${seconds}s`;
const by = (labels: readonly string[]): string => labels.join(", ");

interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** The end of election day in its time zone, in seconds since the epoch. */
export function electionDayEnds(inventory: Inventory): number {
  return Math.floor(midnightIn(addDays(inventory.election.day, 1), inventory.election.timeZone) / 1000);
}

/** Prometheus's rule file (YAML), from the inventory's election day and the timing profile. */
export function renderAlertRules(inventory: Inventory, timing: AlertTiming): string {
  const problems = timingProblems(timing);
  if (problems.length > 0) throw new Error(`alert timing ${timing.name}: ${problems.join("; ")}`);
  const oncall = "{{ $labels.oncall }} {{ $labels.oncall_phone }}";
  const links: Rule[] = [
    { record: "amadegi:link_up", expr: `min by (${by(LINK_LABELS)}) (probe_success{scope="link"})` },
    { record: "amadegi:station_paths_up", expr: `sum by (${by(STATION_LABELS)}) (amadegi:link_up)` },
    ...Object.entries(timing.linkFor).map(([medium, seconds]): Rule => ({
      alert: "AmadegiLinkDown",
      // The medium is the schema's closed list, not free text.
      expr: `amadegi:link_up{medium="${medium}"} == 0`,
      for: s(seconds),
      // One rule per medium; the label (the series' own value) keeps them apart for promtool's lint.
      labels: { severity: "warning", scope: "link", medium },
      annotations: {
        summary: "Link {{ $labels.link }} ({{ $labels.medium }}, {{ $labels.operator }} at {{ $labels.pop }}) of station {{ $labels.station }} is down",
        summary_fa: "لینک {{ $labels.link }} ({{ $labels.medium }}، {{ $labels.operator }} در {{ $labels.pop }}) شعبه {{ $labels.station }} قطع است",
        description: `Owner: {{ $labels.owner }}. The station keeps its other paths. On call: ${oncall}.`,
      },
    })),
    {
      alert: "AmadegiStationUnreachable",
      expr: "amadegi:station_paths_up == 0",
      for: s(timing.stationFor),
      labels: { severity: "critical", scope: "station" },
      annotations: {
        summary: "Station {{ $labels.station }} has no working path",
        summary_fa: "شعبه {{ $labels.station }} هیچ مسیر سالمی ندارد",
        description: `Every link of the station is down: its device cannot reach gateway {{ $labels.gateway }}. On call: ${oncall}.`,
      },
    },
  ];
  const checkins: Rule[] = [
    {
      record: "amadegi:station_checkin_age_seconds",
      expr: "time() - max by (stack, station, district) (amadegi_checkin_last_timestamp_seconds)",
    },
    {
      // Only while a path of the station answers: with none, AmadegiStationUnreachable says it.
      alert: "AmadegiCheckinsSilent",
      expr: `amadegi:station_checkin_age_seconds > ${timing.checkinSilence} and on (stack, station) amadegi:station_paths_up > 0`,
      for: s(timing.checkinFor),
      labels: { severity: "warning", scope: "checkin" },
      annotations: {
        summary: "The device of station {{ $labels.station }} has not checked in for {{ $value | humanizeDuration }}, though its network answers",
        summary_fa: "دستگاه شعبه {{ $labels.station }} با وجود شبکه سالم، {{ $value | humanizeDuration }} است که اعلام حضور نکرده است",
        description: "A path answers but no gateway recorded the device: the device, its certificate or the gateways' service. Check the device first.",
      },
    },
  ];
  const causes: Rule[] = [
    { record: "amadegi:operator_links", expr: "count by (stack, operator) (amadegi:link_up)" },
    { record: "amadegi:operator_links_down", expr: "count by (stack, operator) (amadegi:link_up == 0)" },
    { record: "amadegi:pop_links", expr: "count by (stack, operator, pop) (amadegi:link_up)" },
    { record: "amadegi:pop_links_down", expr: "count by (stack, operator, pop) (amadegi:link_up == 0)" },
    {
      // Half of an operator's links, and at least three: a cut here and there is not an outage.
      alert: "AmadegiOperatorOutage",
      // The ratio first: `and` keeps the left side's value, which the summary shows.
      expr: `amadegi:operator_links_down / amadegi:operator_links >= ${OUTAGE_SHARE} and amadegi:operator_links_down >= ${OUTAGE_MIN_LINKS}`,
      for: s(timing.causeFor),
      keep_firing_for: s(timing.keepFiringFor),
      labels: { severity: "critical", scope: "operator" },
      annotations: {
        summary: "Operator {{ $labels.operator }}: {{ $value | humanizePercentage }} of its links are down",
        summary_fa: "اپراتور {{ $labels.operator }}: {{ $value | humanizePercentage }} لینک‌هایش قطع است",
        description: "An outage of the operator: its links' own alerts are silenced while this fires. Stations fail over to their other operator.",
      },
    },
    {
      // Every link through a point of presence, and at least two.
      alert: "AmadegiPopLost",
      expr: `amadegi:pop_links_down >= ${POP_MIN_LINKS} and amadegi:pop_links_down == amadegi:pop_links`,
      for: s(timing.causeFor),
      keep_firing_for: s(timing.keepFiringFor),
      labels: { severity: "warning", scope: "pop" },
      annotations: {
        summary: "Point of presence {{ $labels.pop }} of {{ $labels.operator }} is lost: all {{ $value }} of its links are down",
        summary_fa: "نقطه حضور {{ $labels.pop }} از {{ $labels.operator }} از دست رفته است: هر {{ $value }} لینک آن قطع است",
        description: "The links' own alerts are silenced while this fires.",
      },
    },
  ];
  const central: Rule[] = [
    {
      // The link prober's last round is all Prometheus has of the links: if it stops writing, nothing of
      // theirs would change again, and no link alert would ever fire (ADR 0013, "The links' prober").
      alert: "AmadegiLinkProberStale",
      expr:
        `time() - node_textfile_mtime_seconds{scope="${LINK_PROBER_SCOPE}"} > ${linkProberStaleAfter(timing)}` +
        ` or node_textfile_scrape_error{scope="${LINK_PROBER_SCOPE}"} == 1`,
      for: s(timing.centralFor),
      labels: { severity: "critical", scope: "monitor" },
      annotations: {
        summary: `The link prober behind {{ $labels.instance }} has written no readable round for ${linkProberStaleAfter(timing)} s`,
        summary_fa: `کاوشگر لینک‌ها در {{ $labels.instance }} بیش از ${linkProberStaleAfter(timing)} ثانیه است که دور خوانایی ننوشته است`,
        description:
          "This monitor no longer sees its stations' links: none of their alerts can fire. " +
          "Read the link prober's log on the monitor server and restart it (amadegi up).",
      },
    },
    { record: "amadegi:server_up", expr: 'max by (stack, server, role, site) (probe_success{scope="central", kind="icmp"})' },
    {
      alert: "AmadegiServerDown",
      expr: "amadegi:server_up == 0",
      for: s(timing.serverFor),
      keep_firing_for: s(timing.keepFiringFor),
      labels: { severity: "critical", scope: "server" },
      annotations: {
        summary: "Central server {{ $labels.server }} ({{ $labels.role }}, {{ $labels.site }}) answers nothing",
        summary_fa: "سرور مرکزی {{ $labels.server }} ({{ $labels.role }}، {{ $labels.site }}) پاسخ نمی‌دهد",
        description: "Its services' own alerts are silenced while this fires.",
      },
    },
    {
      alert: "AmadegiCentralCheckFailing",
      // A probe that fails; a time server that gives no NTP answer, or says it is unsynchronised (stratum 16, leap
      // "alarm"). Not node_ntp_sanity: it also turns 0 on a large offset, which AmadegiClockSkew tells.
      expr:
        'probe_success{scope="central"} == 0 or node_scrape_collector_success{scope="central", collector="ntp"} == 0' +
        ' or node_ntp_stratum{scope="central"} >= 16 or node_ntp_leap{scope="central"} == 3',
      for: s(timing.centralFor),
      labels: { severity: "critical", scope: "central" },
      annotations: {
        summary: "Check {{ $labels.check }} fails on central server {{ $labels.server }} ({{ $labels.role }})",
        summary_fa: "بررسی {{ $labels.check }} روی سرور مرکزی {{ $labels.server }} ({{ $labels.role }}) ناموفق است",
        description: "Probed at {{ $labels.instance }}.",
      },
    },
    {
      alert: "AmadegiClockSkew",
      expr: `abs(node_ntp_offset_seconds{scope="central"}) > ${CLOCK_OFFSET_LIMIT_SECONDS}`,
      for: s(timing.centralFor),
      labels: { severity: "critical", scope: "central" },
      annotations: {
        summary: "Time server {{ $labels.server }} is {{ $value | humanizeDuration }} off the monitor's clock",
        summary_fa: "ساعت سرور زمان {{ $labels.server }} به اندازه {{ $value | humanizeDuration }} با ساعت پایش اختلاف دارد",
        description:
          "Devices and servers that follow it drift too: certificates and check-in times are judged by these clocks. " +
          "Check its chronyd and its own sources.",
      },
    },
    {
      alert: "AmadegiDeviceCrlLapses",
      // A number from the inventory's election day, not text. A lapsed CRL makes nginx refuse every device.
      expr: `max by (stack, server, gateway) (amadegi_device_crl_next_update_timestamp_seconds) < ${electionDayEnds(inventory)}`,
      for: s(timing.certificateFor),
      labels: { severity: "critical", scope: "certificate" },
      annotations: {
        summary: "The devices' CRL on gateway {{ $labels.server }} lapses before election day ends",
        summary_fa: "فهرست ابطال گواهی دستگاه‌ها روی دروازه {{ $labels.server }} پیش از پایان روز انتخابات منقضی می‌شود",
        description: "Its nextUpdate is {{ $value | humanizeTimestamp }}; once it passes, the gateway refuses every device. Issue a new CRL (amadegi up).",
      },
    },
    {
      alert: "AmadegiCertificateLapsesBeforeElection",
      // A number from the inventory's election day, not text.
      expr: `min by (stack, server, role, check) (probe_ssl_earliest_cert_expiry{scope="central"}) < ${electionDayEnds(inventory)}`,
      for: s(timing.certificateFor),
      labels: { severity: "critical", scope: "certificate" },
      annotations: {
        summary: "A certificate of {{ $labels.server }} ({{ $labels.check }}) lapses before election day ends",
        summary_fa: "گواهی {{ $labels.server }} ({{ $labels.check }}) پیش از پایان روز انتخابات منقضی می‌شود",
        description: "It lapses {{ $value | humanizeTimestamp }}: renew it (amadegi up).",
      },
    },
  ];
  // The causes share the links' group: a group's rules run in order on one evaluation, so a cause never reads
  // an older amadegi:link_up than its links' alerts did (separate groups may run an interval apart).
  const group = (name: string, rules: Rule[]) => ({ name, interval: s(timing.evaluationInterval), rules });
  const header = `# Generated by amadegi from the inventory (timing: ${timing.name}): do not edit.\n`;
  return header + dump({ groups: [group("amadegi-links", [...links, ...causes, ...checkins]), group("amadegi-central", central)] }, { lineWidth: -1 });
}

/** Where notifications go: one webhook (a messaging or SMS gateway that dispatches by receiver), or one per receiver. */
export interface AlertReceivers {
  /** The URL every receiver posts to unless named below. */
  readonly webhook: string;
  /** The national operations centre: operators, central services, certificates. */
  readonly escalation?: string;
  /** A district's own URL, by district id. */
  readonly districts?: ReadonlyMap<string, string>;
  /** A file on the monitor server holding the bearer token the gateway expects (never the token itself). */
  readonly credentialsFile?: string;
}

/** The receiver of a district's on-call technicians. */
export function districtReceiver(district: string): string {
  return `oncall-${district}`;
}
export const ESCALATION_RECEIVER = "escalation";

/** Alertmanager's configuration (YAML): a route per district to its on-call receiver, escalation for the rest, inhibitions. */
export function renderAlertmanager(inventory: Inventory, timing: AlertTiming, receivers: AlertReceivers | undefined): string {
  // No receivers: each receiver posts nowhere; Alertmanager keeps the alerts (its API, `amtool alert query`) and tells no one.
  const webhooks = (url: string | undefined) => (receivers === undefined || url === undefined ? {} : { webhook_configs: [webhook(url)] });
  const webhook = (url: string) => ({
    url,
    send_resolved: true,
    ...(receivers?.credentialsFile === undefined ? {} : { http_config: { authorization: { type: "Bearer", credentials_file: receivers.credentialsFile } } }),
  });
  const groupBy = ["alertname", "stack", "district"];
  const districts = [...inventory.districts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const config = {
    route: {
      receiver: ESCALATION_RECEIVER,
      group_by: groupBy,
      group_wait: s(timing.groupWait),
      group_interval: s(timing.groupInterval),
      repeat_interval: s(timing.repeatInterval),
      routes: [
        {
          receiver: ESCALATION_RECEIVER,
          matchers: [`scope=~"operator|pop|server|central|certificate"`],
          // A group per cause: each new one waits group_wait, the time its own cause has to inhibit it (timingProblems).
          group_by: ["alertname", "stack", "operator", "pop", "server"],
        },
        ...districts.map((d) => ({ receiver: districtReceiver(d.id), matchers: [alertmanagerMatcher("district", d.id)] })),
      ],
    },
    inhibit_rules: INHIBITIONS.map((i) => ({
      source_matchers: [alertmanagerMatcher("alertname", i.cause)],
      target_matchers: [alertmanagerMatcher("alertname", i.target)],
      equal: [...i.equal],
    })),
    receivers: [
      { name: ESCALATION_RECEIVER, ...webhooks(receivers?.escalation ?? receivers?.webhook) },
      ...districts.map((d) => ({ name: districtReceiver(d.id), ...webhooks(receivers?.districts?.get(d.id) ?? receivers?.webhook) })),
    ],
  };
  return `# Generated by amadegi from the inventory (timing: ${timing.name}): do not edit.\n${dump(config, { lineWidth: -1 })}`;
}

/** An alert the rules would fire, after Alertmanager's inhibitions, and where it would be told. */
export interface ExpectedAlert {
  readonly alertname: string;
  /** What tells this alert from its siblings: link, station, operator, operator/pop. */
  readonly id: string;
  readonly receiver: string;
  /** The labels Alertmanager groups it by at that receiver (its route's group_by), as they would be. */
  readonly group: Readonly<Record<string, string>>;
}

/**
 * What the link rules conclude from a set of links down (ids), after the inhibitions and the
 * waivers' silences: the oracle the drills compare Alertmanager's notifications with. The same
 * thresholds as the rules (OUTAGE_SHARE, OUTAGE_MIN_LINKS, POP_MIN_LINKS); only monitored links count.
 */
export function expectedLinkAlerts(
  inventory: Inventory,
  stack: string,
  down: ReadonlySet<string>,
  options: {
    /** The links Prometheus probes, where it probes fewer than every monitored link. */
    readonly probed?: ReadonlySet<string>;
    /** The silences in force (`silencesOf`): what they match is never told. */
    readonly silences?: readonly Silence[];
  } = {},
): ExpectedAlert[] {
  const probed = options.probed;
  const silenced = new Set((options.silences ?? []).map((x) => x.item));
  const counts = (link: Link): boolean => isMonitoredLink(link) && (probed === undefined || probed.has(link.id));
  const count = (map: Map<string, { all: number; down: number }>, key: string, isDown: boolean) => {
    const c = map.get(key) ?? { all: 0, down: 0 };
    c.all += 1;
    if (isDown) c.down += 1;
    map.set(key, c);
  };
  const operators = new Map<string, { all: number; down: number }>();
  const pops = new Map<string, { all: number; down: number }>();
  for (const station of inventory.stations) {
    for (const link of station.links) {
      if (!counts(link)) continue;
      count(operators, link.operator, down.has(link.id));
      count(pops, `${link.operator}/${link.pop}`, down.has(link.id));
    }
  }
  const outage = new Set([...operators].filter(([, c]) => c.down >= OUTAGE_MIN_LINKS && c.down / c.all >= OUTAGE_SHARE).map(([op]) => op));
  const lost = new Set([...pops].filter(([, c]) => c.down >= POP_MIN_LINKS && c.down === c.all).map(([pop]) => pop));
  const alerts: ExpectedAlert[] = [];
  const escalation = (alertname: string, group: Record<string, string>) => ({ receiver: ESCALATION_RECEIVER, group: { alertname, stack, ...group } });
  for (const op of [...outage].sort()) alerts.push({ alertname: "AmadegiOperatorOutage", id: op, ...escalation("AmadegiOperatorOutage", { operator: op }) });
  for (const pop of [...lost].sort()) {
    // Inhibited by its operator's outage; a group of its own at escalation.
    const operator = pop.slice(0, pop.indexOf("/"));
    if (!outage.has(operator))
      alerts.push({ alertname: "AmadegiPopLost", id: pop, ...escalation("AmadegiPopLost", { operator, pop: pop.slice(operator.length + 1) }) });
  }
  for (const station of inventory.stations) {
    const monitored = station.links.filter(counts);
    const district = { receiver: districtReceiver(station.district) };
    for (const link of monitored) {
      if (!down.has(link.id) || outage.has(link.operator) || lost.has(`${link.operator}/${link.pop}`)) continue;
      if (silenced.has(link.id) || silenced.has(station.id)) continue;
      alerts.push({ alertname: "AmadegiLinkDown", id: link.id, ...district, group: { alertname: "AmadegiLinkDown", stack, district: station.district } });
    }
    if (monitored.length > 0 && monitored.every((l) => down.has(l.id))) {
      alerts.push({
        alertname: "AmadegiStationUnreachable",
        id: station.id,
        ...district,
        group: { alertname: "AmadegiStationUnreachable", stack, district: station.district },
      });
    }
  }
  return alerts;
}

/**
 * A central server's alert, told at escalation (the drills' oracle for a server's fault): the
 * alert a rule fires for one of its checks (CentralCheckFailing, ClockSkew, a lapsing certificate).
 */
export function expectedServerAlert(stack: string, alertname: string, server: string, check: string): ExpectedAlert {
  return {
    alertname,
    id: alertId(
      alertname,
      new Map([
        ["server", server],
        ["check", check],
      ]),
    ),
    receiver: ESCALATION_RECEIVER,
    group: { alertname, stack, server },
  };
}

/** The label of an alert that `ExpectedAlert.id` is made of (the same for a notification's alert). */
export function alertId(alertname: string, labels: ReadonlyMap<string, string>): string {
  const l = (name: string): string => labels.get(name) ?? "";
  switch (alertname) {
    case "AmadegiLinkDown":
      return l("link");
    case "AmadegiStationUnreachable":
      return l("station");
    case "AmadegiOperatorOutage":
      return l("operator");
    case "AmadegiPopLost":
      return `${l("operator")}/${l("pop")}`;
    case "AmadegiDeviceCrlLapses":
      return `${l("server")}/crl`;
    default:
      return `${l("server")}/${l("check")}`;
  }
}

/**
 * The longest a notification may take after its fault (the issue's goal): the alert's `for:`,
 * a scrape, the probe's timeout, two evaluations and Alertmanager's `group_wait`.
 */
export function notificationBound(timing: AlertTiming, alertFor: number, probeTimeout: number): number {
  return alertFor + timing.scrapeInterval + probeTimeout + 2 * timing.evaluationInterval + timing.groupWait;
}

/** A waiver as an Alertmanager silence: what it accepts is not told until its last day ends. */
export interface Silence {
  readonly waiver: string;
  /** The station or link whose link warnings it silences. */
  readonly item: string;
  /** Alertmanager matchers, each `name="value"` (alertmanagerMatcher). */
  readonly matchers: readonly string[];
  /** When the waiver's last day ends in the election's time zone (ISO). */
  readonly endsAt: string;
  /** The silence's comment starts with it: how provisioning finds its own silences again (idempotent). */
  readonly tag: string;
  readonly comment: string;
}

/** How a silence of amadegi's is tagged (the start of its comment): this prefix, the waiver's id, a hash. */
export const SILENCE_TAG_PREFIX = "amadegi-waiver-";
/** A whole tag (waiver ids are [A-Za-z0-9._-]): what drift accepts back from amtool. */
export const SILENCE_TAG = /^amadegi-waiver-[A-Za-z0-9._-]+$/;
/** The tags in amtool's output as `grep -o` finds them (a basic regular expression with no quote in it). */
export const SILENCE_TAG_GREP = `${SILENCE_TAG_PREFIX}[A-Za-z0-9._-]*`;

/** Waivers whose rule a link's alerts are the symptom of: a station's weak redundancy, a link not live by its date. */
const SILENCED_RULES = /^(redundancy|lifecycle)\./;

/**
 * The inventory's live waivers as silences: a waiver of a redundancy or lifecycle rule on a
 * station or a link silences that station's (or link's) `AmadegiLinkDown` until the waiver's
 * last day ends. The station's loss of every path (critical) is never silenced; other waivers
 * (capacity, security) have no alert to silence.
 */
export function silencesOf(inventory: Inventory): Silence[] {
  const out: Silence[] = [];
  for (const w of inventory.waivers) {
    if (!SILENCED_RULES.test(w.rule) || w.until < inventory.today) continue;
    const station = inventory.stationsById.get(w.item);
    const link = station === undefined ? inventory.linksById.get(w.item) : undefined;
    if (station === undefined && link === undefined) continue;
    const matchers = [
      alertmanagerMatcher("alertname", "AmadegiLinkDown"),
      station === undefined ? alertmanagerMatcher("link", w.item) : alertmanagerMatcher("station", w.item),
    ];
    const endsAt = new Date(midnightIn(addDays(w.until, 1), inventory.election.timeZone)).toISOString();
    const tag = `${SILENCE_TAG_PREFIX}${w.id}-${createHash("sha256")
      .update(`${matchers.join(",")}|${endsAt}`)
      .digest("hex")
      .slice(0, 12)}`;
    out.push({ waiver: w.id, item: w.item, matchers, endsAt, tag, comment: `${tag}: ${w.rule} on ${w.item}, approved by ${w.approvedBy}` });
  }
  return out;
}
