import type { Counts } from "../../probe/summary.ts";
import type { Attribution, Comparison, ExpectedFault, ObjectRef } from "./attribution.ts";
import type { Action, Scenario } from "./scenarios.ts";
import type { NotificationsReport } from "./monitoring.ts";
import type { StationOutcome } from "./watch.ts";

/**
 * What a drill reports: counts first (injected, detected, attributed, missed,
 * false alarms, failovers, time to detection, restore), then the details.
 * `--json` prints it whole; it is also written to `<state>/drills/<id>.json`.
 */
export interface CampaignRef {
  readonly file: string;
  readonly id: string;
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly targets: number;
  readonly counts: Counts;
  readonly valid: boolean;
}

export type ActionSummary =
  | { readonly kind: "drop"; readonly ns: string; readonly operator: string; readonly addresses: number }
  | { readonly kind: "stop"; readonly server: string; readonly services: readonly string[] }
  | { readonly kind: "skew"; readonly server: string; readonly offset: string }
  | { readonly kind: "cert"; readonly server: string; readonly notAfter: string };

export function summarise(action: Action): ActionSummary {
  switch (action.kind) {
    case "drop":
      return { kind: "drop", ns: action.ns, operator: action.operator, addresses: action.addresses.length };
    case "stop":
      return { kind: "stop", server: action.server, services: action.services.map((s) => s.name) };
    case "skew":
      return { kind: "skew", server: action.server, offset: action.offset };
    case "cert":
      return { kind: "cert", server: action.server, notAfter: action.notAfter };
  }
}

export interface Spread {
  readonly count: number;
  readonly minMs?: number;
  readonly medianMs?: number;
  readonly maxMs?: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0 };
  return { count: sorted.length, minMs: sorted[0] ?? 0, medianMs: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0, maxMs: sorted[sorted.length - 1] ?? 0 };
}

export interface DrillReport {
  readonly version: 1;
  readonly id: string;
  readonly scenario: Scenario;
  readonly description: string;
  readonly notes: readonly string[];
  readonly stack: string;
  readonly district?: string;
  readonly share?: number;
  readonly target?: string;
  readonly startedAt: string;
  readonly faultAt: string;
  readonly restoredAt: string;
  readonly finishedAt: string;
  readonly injected: {
    readonly faults: readonly ExpectedFault[];
    readonly actions: readonly ActionSummary[];
    readonly links: number;
    readonly stations: number;
  };
  readonly campaigns: { readonly baseline: CampaignRef; readonly during: CampaignRef; readonly verify?: CampaignRef };
  readonly attribution: {
    readonly attributions: readonly Attribution[];
    readonly observableLinks: number;
    readonly lostLinks: number;
    readonly failingServers: readonly string[];
    readonly qualityOnly: number;
    readonly standing: number;
    readonly unknown: number;
    /** Links the campaign saw silent but a device checked in over during the fault. */
    readonly contradicted: readonly string[];
  };
  readonly comparison: Comparison;
  /** From the fault to the campaign result that completed the evidence of the last injected fault; and to the first result that showed any. */
  readonly detection: { readonly timeToDetectionMs?: number; readonly firstSignalMs?: number };
  readonly stations: {
    readonly devicesRunning: boolean;
    readonly windowMs: number;
    readonly affected: number;
    readonly failedOver: number;
    readonly lostEveryPath: readonly string[];
    readonly pending: readonly string[];
    readonly notMeasured: number;
    readonly failover: Spread;
    readonly noticed: Spread;
    /** The gateways' records: stations they saw check in over another path after the fault. */
    readonly recorded: Spread;
    readonly outcomes: readonly StationOutcome[];
  };
  readonly checkins: { readonly records: number; readonly failures: readonly string[] };
  readonly restore: { readonly whole: boolean; readonly leftovers: readonly string[]; readonly elapsedMs: number; readonly verified: string };
  /** What the rehearsal's Alertmanager told, beside what the rules should have (src/rehearsal/drill/monitoring.ts). */
  readonly notifications: NotificationsReport;
  readonly verdict: "detected-and-attributed" | "not-fully-detected" | "not-notified" | "not-restored";
  readonly exitCode: 0 | 1 | 2;
  readonly file: string;
}

const s = (ms: number | undefined): string => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);

function objectText(o: ObjectRef): string {
  return `${o.kind} ${o.id}`;
}

function spreadText(x: Spread): string {
  return x.count === 0 ? "none measured" : `median ${s(x.medianMs)}, min ${s(x.minMs)}, max ${s(x.maxMs)}`;
}

const DETAILS = 15;

/** The report for a person: counts first, details after (the first few of each kind; --json has all). */
export function formatReport(r: DrillReport): string[] {
  const c = r.comparison.counts;
  const verdict = {
    "detected-and-attributed": "DETECTED AND ATTRIBUTED",
    "not-restored": "NOT RESTORED",
    "not-fully-detected": "NOT FULLY DETECTED",
    "not-notified": "DETECTED, BUT NOT TOLD AS EXPECTED",
  }[r.verdict];
  const n = r.notifications;
  const o = n.outcome;
  const st = r.stations;
  const lines = [
    `drill ${r.id}: ${verdict} (exit ${r.exitCode})`,
    `  injected: ${c.injected} fault${c.injected === 1 ? "" : "s"} — ${r.description}`,
    `  detected ${c.detected}/${c.injected} · attributed ${c.attributed}/${c.injected} · misattributed ${c.misattributed} · ` +
      `partly detected ${c.partly} · missed ${c.missed} · false alarms ${c.falseAlarms}`,
    `  time to detection: ${s(r.detection.timeToDetectionMs)} (first signal ${s(r.detection.firstSignalMs)}; ` +
      `campaign during the fault ${s(r.campaigns.during.elapsedMs)})`,
    st.affected === 0
      ? "  stations: none should notice this fault"
      : `  stations: ${st.affected} affected · ${st.failedOver} failed over (${spreadText(st.failover)}) · ` +
        `${st.lostEveryPath.length} lost every path · ${st.pending.length} undecided · ` +
        `${st.notMeasured} not measured${st.devicesRunning ? "" : " (device responders not running)"}`,
    ...(st.affected === 0 ? [] : [`  devices noticed the fault: ${spreadText(st.noticed)}; gateways recorded the failover: ${spreadText(st.recorded)}`]),
    !n.measured || o === undefined
      ? `  notifications: not measured (${n.why ?? "?"})`
      : `  notifications: ${o.expected.filter((e) => e.notifiedMs !== undefined).length}/${o.expected.length} expected alerts told ` +
        `(${o.distinct} distinct, ${o.posts} posts) · time to notification ${s(o.timeToNotificationMs)} (goal ≤ ${s(n.boundMs)}) · ` +
        `resolved ${o.expected.filter((e) => e.resolvedMs !== undefined).length}/${o.expected.length} in ${s(o.timeToResolutionMs)} · ` +
        `unexpected ${o.unexpected.length} · misrouted ${o.misrouted.length} (timing ${n.timing?.name ?? "?"}: scrape ${n.timing?.scrapeInterval}s, ` +
        `group_wait ${n.timing?.groupWait}s)`,
    `  restore: ${r.restore.whole ? "whole" : "NOT WHOLE"} in ${s(r.restore.elapsedMs)} (${r.restore.verified})`,
    `  report: ${r.file}`,
  ];
  for (const note of r.notes) lines.push(`  note: ${note}`);
  for (const u of o?.unexpected.slice(0, DETAILS) ?? []) lines.push(`  told, not expected: ${u.alertname} ${u.id} at ${u.receiver}`);
  for (const m of o?.misrouted.slice(0, DETAILS) ?? []) lines.push(`  told at ${m.receiver}, not ${m.expected}: ${m.alertname} ${m.id}`);
  for (const e of o?.expected.filter((x) => x.notifiedMs === undefined).slice(0, DETAILS) ?? [])
    lines.push(`  not told: ${e.alertname} ${e.id} (${e.receiver})`);
  const contradicted = r.attribution.contradicted;
  if (contradicted.length > 0)
    lines.push(
      `  ${contradicted.length} link(s) silent to the campaign had device check-ins during the fault, so not lost: ${contradicted.slice(0, 5).join(", ")}`,
    );
  for (const l of r.restore.leftovers) lines.push(`  left behind: ${l}`);
  const wrong = r.comparison.items.filter((i) => i.outcome !== "attributed");
  for (const i of wrong.slice(0, DETAILS)) {
    const as = i.attributedAs.length === 0 ? "" : `; the pipeline said ${i.attributedAs.map((a) => `${objectText(a.object)} (${a.cause})`).join(", ")}`;
    const links = i.expected.links.length === 0 ? "" : `; ${i.linksLost}/${i.expected.links.length} links seen lost`;
    lines.push(`  ${i.outcome}: ${objectText(i.expected.object)} (${i.expected.cause})${links}${as}`);
  }
  if (wrong.length > DETAILS) lines.push(`  … ${wrong.length - DETAILS} more not attributed (--json)`);
  for (const a of r.comparison.falseAlarms.slice(0, DETAILS))
    lines.push(`  false alarm: ${objectText(a.object)} (${a.cause}) on ${a.evidence.slice(0, 3).join(", ")}${a.evidence.length > 3 ? ", …" : ""}`);
  const right = r.comparison.items.filter((i) => i.outcome === "attributed");
  for (const i of right.slice(0, DETAILS)) {
    const at = i.detectedAt === undefined ? undefined : Date.parse(i.detectedAt) - Date.parse(r.faultAt);
    lines.push(
      `  attributed: ${objectText(i.expected.object)} (${i.expected.cause})` +
        `${i.expected.links.length > 1 ? `, ${i.expected.links.length} links` : ""} in ${s(at)}`,
    );
  }
  if (right.length > DETAILS) lines.push(`  … ${right.length - DETAILS} more attributed (--json)`);
  for (const station of st.lostEveryPath.slice(0, DETAILS)) lines.push(`  lost every path: station ${station}`);
  for (const o of st.outcomes.filter((x) => x.state === "failed-over").slice(0, 5)) {
    lines.push(
      `  failover: station ${o.station} in ${s(o.failoverMs)} over ${o.via?.link ?? "?"} to ${o.via?.gateway ?? "?"}` +
        `${o.noticedMs === undefined ? "" : ` (device saw the fault at ${s(o.noticedMs)})`}`,
    );
  }
  return lines;
}
