import { readFileSync } from "node:fs";
import { type Attempt, readResponderStatus, type ResponderSpec } from "../responder.ts";
import { devicesStatus, responderFiles } from "../responders.ts";
import type { CheckinLine } from "./probe.ts";
import type { Affected } from "./scenarios.ts";

/**
 * The devices' side of a drill: every check-in attempt each link makes while
 * the fault lasts, read from the responders' status files (each rewrites its
 * file every couple of seconds with every link's latest attempt; a link
 * attempts once an interval, so polling faster than the file is rewritten sees
 * each attempt). From those: when each affected station's device first checked
 * in over another path (its failover), when it first saw the fault, and which
 * stations lost every path.
 */
export interface LinkAttempts {
  readonly station: string;
  readonly attempts: Attempt[];
}

export interface ResponderTiming {
  readonly intervalMs: number;
  readonly jitter: number;
  readonly timeoutMs: number;
  readonly statusEveryMs: number;
  /** Gateways each device tries, primary first. */
  readonly gateways: number;
}

export class ResponderWatch {
  readonly links = new Map<string, LinkAttempts>();
  readonly timing: ResponderTiming;
  readonly running: boolean;
  private readonly files: readonly string[];
  private timer: NodeJS.Timeout | undefined;

  constructor(stateDir: string) {
    const status = devicesStatus(stateDir);
    this.running = status.running;
    const specs: ResponderSpec[] = [];
    for (const o of status.operators) {
      try {
        specs.push(JSON.parse(readFileSync(responderFiles(stateDir, o.operator).spec, "utf8")) as ResponderSpec);
      } catch {
        // a responder without its spec: no timing from it
      }
    }
    this.files = status.operators.map((o) => responderFiles(stateDir, o.operator).status);
    const max = (f: (s: ResponderSpec) => number, fallback: number) => (specs.length === 0 ? fallback : Math.max(...specs.map(f)));
    this.timing = {
      intervalMs: max((s) => s.intervalMs, 15_000),
      jitter: max((s) => s.jitter, 0.1),
      timeoutMs: max((s) => s.timeoutMs, 5_000),
      statusEveryMs: max((s) => s.statusEveryMs, 2_000),
      gateways: max((s) => Math.max(...s.devices.map((d) => d.gateways.length), 1), 2),
    };
  }

  /** Longest a station can take to show both its failover and the fault: one interval, every gateway timing out, one status write. */
  windowMs(): number {
    const t = this.timing;
    return Math.round(t.intervalMs * (1 + t.jitter) + t.gateways * t.timeoutMs + t.statusEveryMs + 1_000);
  }

  poll(): void {
    for (const file of this.files) {
      for (const link of readResponderStatus(file)?.links ?? []) {
        let entry = this.links.get(link.link);
        if (entry === undefined) {
          entry = { station: link.station, attempts: [] };
          this.links.set(link.link, entry);
        }
        const last = link.last;
        if (last !== undefined && !entry.attempts.some((a) => a.at === last.at)) entry.attempts.push(last);
      }
    }
  }

  start(everyMs = 400): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  /** Station → its links the devices check in over. */
  stationLinks(): Map<string, string[]> {
    const map = new Map<string, string[]>();
    for (const [link, e] of this.links) map.set(e.station, [...(map.get(e.station) ?? []), link]);
    return map;
  }
}

export type StationState = "failed-over" | "lost-every-path" | "pending" | "not-measured";

export interface StationOutcome {
  readonly station: string;
  readonly state: StationState;
  /** From the fault to the end of the first check-in over another path (link, or gateway). */
  readonly failoverMs?: number;
  readonly via?: { readonly link: string; readonly gateway: string };
  /** From the fault to the end of the first attempt that failed because of it. */
  readonly noticedMs?: number;
  /** The gateways' side: the first check-in they recorded from the station over another path after the fault. */
  readonly recordedMs?: number;
  readonly why?: string;
}

/** When an attempt ended (the responder records it; older status files only its start and duration). */
const end = (a: Attempt): number => {
  const recorded = (a as Partial<Attempt>).end;
  return recorded === undefined ? Date.parse(a.at) + a.ms : Date.parse(recorded);
};

/**
 * Each affected station's outcome from the attempts seen. A failover is the
 * first successful check-in that started after the fault over a path the
 * fault left alone: another link (link faults) or another gateway (a lost
 * gateway). A station whose every link failed after the fault, and none
 * succeeded, lost every path.
 */
export function stationOutcomes(
  affected: Affected,
  links: ReadonlyMap<string, LinkAttempts>,
  faultAt: number,
  records: readonly CheckinLine[] = [],
): StationOutcome[] {
  const byStation = new Map<string, string[]>();
  for (const [link, e] of links) byStation.set(e.station, [...(byStation.get(e.station) ?? []), link]);
  const injected = new Set(affected.links);
  return affected.stations.map((station): StationOutcome => {
    const own = byStation.get(station) ?? [];
    if (own.length === 0) return { station, state: "not-measured", why: "no device responder checks in for it" };
    const before = own.some((link) => (links.get(link)?.attempts ?? []).some((a) => a.ok && end(a) < faultAt));
    if (!before) return { station, state: "not-measured", why: "its device had not checked in before the fault" };
    const after = own.flatMap((link) => (links.get(link)?.attempts ?? []).map((a) => ({ link, a })));
    const avoids = (link: string, gateway: string): boolean => (affected.kind === "gateway" ? gateway !== affected.gateway : !injected.has(link));
    const successes = after.filter(({ link, a }) => a.ok && Date.parse(a.at) >= faultAt && avoids(link, a.gateway)).sort((x, y) => end(x.a) - end(y.a));
    const hit = (link: string, a: Attempt): boolean =>
      affected.kind === "gateway" ? a.primaryFailed?.gateway === affected.gateway || (!a.ok && a.gateway === affected.gateway) : injected.has(link) && !a.ok;
    const noticed = after.filter(({ link, a }) => end(a) >= faultAt && hit(link, a)).sort((x, y) => end(x.a) - end(y.a))[0];
    const recorded = records.filter(
      (r) => r.station === station && Date.parse(r.time) >= faultAt && (affected.kind === "gateway" ? r.gateway !== affected.gateway : !injected.has(r.link)),
    )[0];
    const base = {
      station,
      ...(noticed === undefined ? {} : { noticedMs: end(noticed.a) - faultAt }),
      ...(recorded === undefined ? {} : { recordedMs: Date.parse(recorded.time) - faultAt }),
    };
    const first = successes[0];
    if (first !== undefined) return { ...base, state: "failed-over", failoverMs: end(first.a) - faultAt, via: { link: first.link, gateway: first.a.gateway } };
    const anyOk = after.some(({ a }) => a.ok && Date.parse(a.at) >= faultAt);
    // A link that never checked in while watched (a blind spot) is no path to fail over to.
    const dead = (link: string): boolean => {
      const list = links.get(link)?.attempts ?? [];
      return list.length > 0 && !list.some((a) => a.ok);
    };
    if (!anyOk && affected.kind === "links" && own.every((link) => injected.has(link) || dead(link))) {
      return {
        ...base,
        state: "lost-every-path",
        why: own.every((link) => injected.has(link)) ? "the fault took every link it has" : "the fault took every link it had that worked",
      };
    }
    const allFailing = own.every((link) => (links.get(link)?.attempts ?? []).some((a) => !a.ok && end(a) >= faultAt));
    if (allFailing && !anyOk) return { ...base, state: "lost-every-path", why: "every link's check-ins failed after the fault" };
    return { ...base, state: "pending", why: "no check-in over another path was seen in the window" };
  });
}

/** Every affected station has an outcome (failed over and noticed, or lost every path). */
export function settled(outcomes: readonly StationOutcome[]): boolean {
  return outcomes.every((o) => o.state === "lost-every-path" || o.state === "not-measured" || (o.state === "failed-over" && o.noticedMs !== undefined));
}
