import type { ProbeResult } from "../../probe/types.ts";
import type { Scope } from "./scope.ts";

/**
 * What the pipeline concluded from its results, and how that compares with
 * what a drill injected. `attribute` reads two campaigns — one before the
 * fault (the baseline), one during it — and the inventory's topology (the
 * scope); it is never told what was injected. `compare` then lays the
 * conclusions beside the injected faults.
 */

/** The object a fault is attributed to. */
export interface ObjectRef {
  readonly kind: "link" | "operator" | "pop" | "server";
  readonly id: string;
}

/**
 * - path-lost: the link (or every link of the operator / PoP) stopped answering;
 * - unreachable: the server stopped answering at all (ping);
 * - service-down: a service of the server refuses, times out or answers wrongly;
 * - certificate: the server's certificate fails its expiry condition;
 * - clock: the time server's offset (or stratum) fails its condition;
 * - dns-answers: the DNS server answers, but not what the inventory says.
 */
export const CAUSES = ["path-lost", "unreachable", "service-down", "certificate", "clock", "dns-answers"] as const;
export type Cause = (typeof CAUSES)[number];

/** What one result says, for attribution. */
export type Signal = "ok" | "quality" | "fails" | "wrong" | "certificate" | "clock" | "dns-answers" | "unreachable" | "unknown";

/** Signals that are a fault (as opposed to health, slowness, or no verdict). */
const FAULT_SIGNALS: ReadonlySet<Signal> = new Set<Signal>(["fails", "wrong", "certificate", "clock", "dns-answers"]);
/** Failure classes that say the target did not answer (or not properly): a lost path or a stopped service. */
const CONNECTIVITY = new Set(["timeout", "refused", "reset", "no-route", "tls", "protocol", "dns"]);
/** Conditions on how fast or how lossy: noise on a shared machine, never a fault by themselves. */
const QUALITY = new Set(["RTT", "LOSS", "JITTER"]);

/** The placeholders of the conditions that failed: from `failed`, or the detail where a probe gives none (icmp). */
function placeholders(failed: readonly string[] | undefined, detail: string | undefined): Set<string> {
  const names = new Set<string>();
  const texts = failed === undefined || failed.length === 0 ? [detail ?? ""] : failed;
  for (const text of texts) for (const m of text.matchAll(/\[([A-Z_]+)\]/g)) if (m[1] !== undefined) names.add(m[1]);
  return names;
}

/** A result → its signal. Only `down` results can be faults; `unreachable` is an upstream's fault. */
export function signalOf(r: Pick<ProbeResult, "status" | "failure" | "failed" | "detail">): Signal {
  if (r.status === "up" || r.status === "degraded") return "ok";
  if (r.status === "unknown") return "unknown";
  if (r.status === "unreachable") return "unreachable";
  if (r.failure === "assertion") {
    const names = placeholders(r.failed, r.detail);
    if (names.has("CERTIFICATE_EXPIRATION")) return "certificate";
    if (names.has("NTP_OFFSET") || names.has("STRATUM")) return "clock";
    if (names.has("DNS_ANSWERS")) return "dns-answers";
    if (names.size > 0 && [...names].every((n) => QUALITY.has(n))) return "quality";
    return "wrong";
  }
  if (r.failure !== undefined && CONNECTIVITY.has(r.failure)) return "fails";
  // internal, not-allowed: the probe could not judge; that is no verdict on the target.
  return "unknown";
}

const healthy = (s: Signal | undefined): boolean => s === "ok" || s === "quality";

/** The slice of a result attribution keeps. */
export type ResultLine = Pick<ProbeResult, "key" | "check" | "kind" | "status" | "at"> &
  Partial<Pick<ProbeResult, "station" | "link" | "server" | "failure" | "failed" | "detail">>;

export interface Observation {
  readonly key: string;
  readonly check: string;
  readonly before: Signal;
  readonly during: Signal;
  /** When the campaign settled the result during the fault. */
  readonly at: string;
  readonly detail?: string;
}

export interface Attribution {
  readonly object: ObjectRef;
  readonly cause: Cause;
  /** Links the conclusion covers (link, operator and PoP attributions). */
  readonly links: readonly string[];
  /** Result keys it rests on. */
  readonly evidence: readonly string[];
  /** The first and the last of those results: the conclusion could be drawn at `lastAt`. */
  readonly firstAt: string;
  readonly lastAt: string;
}

export interface AttributionResult {
  readonly attributions: readonly Attribution[];
  /** Links the baseline saw answer (at least one of their checks healthy): the only ones a change can be seen on. */
  readonly observable: readonly string[];
  /** Links that stopped answering (a check healthy before, failing during). */
  readonly lost: readonly string[];
  /** Servers with a check healthy before and failing during. */
  readonly failingServers: readonly string[];
  /** Checks whose results went from healthy to slow or lossy only: reported, not a fault. */
  readonly qualityOnly: number;
  /** Results of the baseline that were already failing (standing conditions, not the drill's). */
  readonly standing: number;
  /** Objects whose during result is `unknown` (not probed in time, or not judged). */
  readonly unknown: number;
  /** Links the campaign saw silent, over which a device checked in during the fault all the same: not lost. */
  readonly contradicted: readonly string[];
}

export interface AttributeOptions {
  /**
   * Links over which the gateways recorded a check-in while the fault was in
   * place: the path works, whatever one probe saw (a weak link that lost every
   * echo of a campaign). Read from the gateways' logs, like every check-in.
   */
  readonly checkedIn?: ReadonlySet<string>;
}

/** Index results by key. */
export function byKey(results: Iterable<ResultLine>): Map<string, ResultLine> {
  const map = new Map<string, ResultLine>();
  for (const r of results) map.set(r.key, r);
  return map;
}

function minMax(times: readonly string[]): { firstAt: string; lastAt: string } {
  const sorted = [...times].sort();
  return { firstAt: sorted[0] ?? "", lastAt: sorted[sorted.length - 1] ?? "" };
}

/** Groups of links one fault can take down at once: operators and points of presence. */
interface Candidate {
  readonly object: ObjectRef;
  readonly links: readonly string[];
  readonly rank: number;
}

/**
 * The pipeline's conclusions from a baseline and a campaign during a fault.
 *
 * Links: a link is lost when a check of it was healthy in the baseline and
 * fails (no answer) during the fault, unless a device checked in over it while
 * the fault lasted (options.checkedIn: then the path works). An operator or a point of presence with
 * at least two observable links, every one of them lost, is the cause of
 * those links' loss; the widest such groups are chosen (an operator over its
 * PoPs, an exchange over the towers it backhauls; at equal links, the
 * operator, then the PoP higher in the backhaul chain). Lost links no chosen
 * group covers are attributed one by one (a cut).
 *
 * Servers: a ping that stops answering is the server (`unreachable`); a
 * certificate, offset or DNS-answer condition that starts failing is that
 * cause; any other check that starts failing (refused, timed out, wrong
 * answer) is `service-down`. Slowness and partial loss are never faults.
 */
export function attribute(
  scope: Scope,
  baseline: ReadonlyMap<string, ResultLine>,
  during: ReadonlyMap<string, ResultLine>,
  options: AttributeOptions = {},
): AttributionResult {
  const observations = new Map<string, Observation[]>();
  let qualityOnly = 0;
  let standing = 0;
  let unknown = 0;
  for (const [key, d] of during) {
    const b = baseline.get(key);
    const before = b === undefined ? "unknown" : signalOf(b);
    const now = signalOf(d);
    if (FAULT_SIGNALS.has(before)) standing += 1;
    if (now === "unknown") unknown += 1;
    if (before === "ok" && now === "quality") qualityOnly += 1;
    const owner = d.link !== undefined ? `link:${d.link}` : d.server !== undefined ? `server:${d.server}` : undefined;
    if (owner === undefined) continue;
    const list = observations.get(owner) ?? [];
    list.push({ key, check: d.check, before, during: now, at: d.at, ...(d.detail === undefined ? {} : { detail: d.detail }) });
    observations.set(owner, list);
  }

  // Links: observable in the baseline, lost during the fault.
  const observable: string[] = [];
  const lost = new Map<string, Observation[]>();
  const contradicted: string[] = [];
  for (const link of scope.links) {
    const obs = observations.get(`link:${link.id}`) ?? [];
    if (!obs.some((o) => healthy(o.before))) continue;
    observable.push(link.id);
    const failing = obs.filter((o) => healthy(o.before) && FAULT_SIGNALS.has(o.during));
    if (failing.length === 0) continue;
    if (options.checkedIn?.has(link.id) === true) contradicted.push(link.id);
    else lost.set(link.id, failing);
  }
  const observableSet = new Set(observable);
  const candidates: Candidate[] = [];
  const group = (object: ObjectRef, links: readonly string[] | undefined, rank: number): void => {
    const seen = (links ?? []).filter((l) => observableSet.has(l));
    if (seen.length >= 2 && seen.every((l) => lost.has(l))) candidates.push({ object, links: seen, rank });
  };
  for (const [operator, links] of scope.operators) group({ kind: "operator", id: operator }, links, 0);
  for (const [pop, links] of scope.pops) group({ kind: "pop", id: pop }, links, 1 + (scope.popDepth.get(pop) ?? 0));
  candidates.sort((a, b) => b.links.length - a.links.length || a.rank - b.rank || (a.object.id < b.object.id ? -1 : 1));
  const covered = new Set<string>();
  const attributions: Attribution[] = [];
  const linkAttribution = (object: ObjectRef, links: readonly string[]): Attribution => {
    const evidence = links.flatMap((l) => lost.get(l) ?? []);
    return { object, cause: "path-lost", links: [...links].sort(), evidence: evidence.map((o) => o.key).sort(), ...minMax(evidence.map((o) => o.at)) };
  };
  for (const c of candidates) {
    if (c.links.every((l) => covered.has(l))) continue;
    for (const l of c.links) covered.add(l);
    attributions.push(linkAttribution(c.object, c.links));
  }
  for (const link of [...lost.keys()].sort()) {
    if (!covered.has(link)) attributions.push(linkAttribution({ kind: "link", id: link }, [link]));
  }

  // Servers.
  const failingServers: string[] = [];
  for (const server of scope.servers) {
    const obs = (observations.get(`server:${server.id}`) ?? []).filter((o) => healthy(o.before) && FAULT_SIGNALS.has(o.during));
    if (obs.length === 0) continue;
    failingServers.push(server.id);
    const ping = obs.filter((o) => during.get(o.key)?.kind === "icmp");
    const byCause = new Map<Cause, Observation[]>();
    if (ping.length > 0) byCause.set("unreachable", ping);
    else {
      for (const o of obs) {
        const cause: Cause =
          o.during === "certificate" ? "certificate" : o.during === "clock" ? "clock" : o.during === "dns-answers" ? "dns-answers" : "service-down";
        byCause.set(cause, [...(byCause.get(cause) ?? []), o]);
      }
    }
    for (const [cause, list] of byCause) {
      attributions.push({
        object: { kind: "server", id: server.id },
        cause,
        links: [],
        evidence: list.map((o) => o.key).sort(),
        ...minMax(list.map((o) => o.at)),
      });
    }
  }
  return { attributions, observable, lost: [...lost.keys()].sort(), failingServers, qualityOnly, standing, unknown, contradicted };
}

// What was injected, beside what was concluded ------------------------------------------

/** One fault a drill injected, as a perfect pipeline would name it. */
export interface ExpectedFault {
  readonly object: ObjectRef;
  readonly cause: Cause;
  /** Observable links it takes down (link, operator and PoP faults), by the baseline. */
  readonly links: readonly string[];
}

export type Outcome = "attributed" | "misattributed" | "partly-detected" | "missed";

export interface ItemComparison {
  readonly expected: ExpectedFault;
  readonly outcome: Outcome;
  /** Links of its footprint the pipeline saw lost / did not. */
  readonly linksLost: number;
  readonly linksMissed: readonly string[];
  /** What the pipeline said instead (misattributed). */
  readonly attributedAs: readonly { readonly object: ObjectRef; readonly cause: Cause }[];
  /** The attribution's results: first signal and complete evidence. */
  readonly firstAt?: string;
  readonly detectedAt?: string;
}

export interface Comparison {
  readonly items: readonly ItemComparison[];
  readonly counts: {
    readonly injected: number;
    readonly detected: number;
    readonly attributed: number;
    readonly misattributed: number;
    readonly partly: number;
    readonly missed: number;
    readonly falseAlarms: number;
  };
  readonly falseAlarms: readonly Attribution[];
  /** Every injected fault detected and attributed to the right object and cause, and nothing else alarmed. */
  readonly complete: boolean;
}

const same = (a: ObjectRef, b: ObjectRef): boolean => a.kind === b.kind && a.id === b.id;

/** Lay the pipeline's conclusions beside what was injected. */
export function compare(expected: readonly ExpectedFault[], result: AttributionResult): Comparison {
  const lost = new Set(result.lost);
  const failingServers = new Set(result.failingServers);
  const used = new Set<Attribution>();
  const items: ItemComparison[] = expected.map((e) => {
    const exact = result.attributions.find((a) => same(a.object, e.object) && a.cause === e.cause);
    if (exact !== undefined) used.add(exact);
    const linksMissed = e.links.filter((l) => !lost.has(l));
    const linksLost = e.links.length - linksMissed.length;
    const serverSeen = e.object.kind === "server" && failingServers.has(e.object.id);
    const overlapping = result.attributions.filter(
      (a) => a !== exact && (e.object.kind === "server" ? a.object.kind === "server" && a.object.id === e.object.id : a.links.some((l) => e.links.includes(l))),
    );
    for (const a of overlapping) used.add(a);
    const detected = e.object.kind === "server" ? serverSeen : e.links.length > 0 && linksMissed.length === 0;
    const partly = e.object.kind !== "server" && linksLost > 0 && linksMissed.length > 0;
    const outcome: Outcome = exact !== undefined && detected ? "attributed" : detected ? "misattributed" : partly ? "partly-detected" : "missed";
    return {
      expected: e,
      outcome,
      linksLost,
      linksMissed,
      attributedAs: overlapping.map((a) => ({ object: a.object, cause: a.cause })),
      ...(exact === undefined ? {} : { firstAt: exact.firstAt, detectedAt: exact.lastAt }),
    };
  });
  // An attribution that overlaps no injected fault is a false alarm.
  const falseAlarms = result.attributions.filter((a) => !used.has(a));
  const count = (o: Outcome) => items.filter((i) => i.outcome === o).length;
  const counts = {
    injected: items.length,
    detected: items.filter((i) => i.outcome === "attributed" || i.outcome === "misattributed").length,
    attributed: count("attributed"),
    misattributed: count("misattributed"),
    partly: count("partly-detected"),
    missed: count("missed"),
    falseAlarms: falseAlarms.length,
  };
  return { items, counts, falseAlarms, complete: items.length > 0 && counts.attributed === items.length && falseAlarms.length === 0 };
}
