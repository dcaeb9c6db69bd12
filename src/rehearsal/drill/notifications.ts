import { existsSync, readFileSync } from "node:fs";
import { alertId, type ExpectedAlert } from "../../model/index.ts";
import type { Notification } from "../receiver.ts";

/**
 * What a drill's fault should have told, beside what Alertmanager told: the
 * notifications the rehearsal's receiver recorded (src/rehearsal/receiver.ts),
 * compared with the alerts the rules would fire for the links down
 * (`expectedLinkAlerts`, src/model/alerting.ts).
 *
 * Alertmanager posts a group again when alerts join or leave it, so
 * notifications are counted as distinct (receiver, group, final alert set).
 * Alerts already active before the fault (the baseline's: their `startsAt`
 * is earlier, or the oracle expects them of the baseline's links) are left
 * out: they may share a group with the fault's.
 */

export interface NotificationOutcome {
  /** The fault's alerts, each with where and when it was first told. */
  readonly expected: readonly {
    readonly alertname: string;
    readonly id: string;
    readonly receiver: string;
    /** First notification naming it as firing, after the fault, at its receiver. */
    readonly notifiedMs?: number;
    /** First notification naming it as resolved, after the restore began. */
    readonly resolvedMs?: number;
  }[];
  /** Alerts told after the fault that the rules' oracle does not expect (and the baseline did not hold). */
  readonly unexpected: readonly { readonly alertname: string; readonly id: string; readonly receiver: string }[];
  /** Expected alerts told at another receiver than their route's. */
  readonly misrouted: readonly { readonly alertname: string; readonly id: string; readonly receiver: string; readonly expected: string }[];
  /** Distinct (receiver, group, final firing set) after the fault, baseline alerts left out. */
  readonly distinct: number;
  /** Every notification recorded after the fault (re-posts included). */
  readonly posts: number;
  /** The slowest expected alert's first notification after the fault. */
  readonly timeToNotificationMs?: number;
  /** The slowest expected alert's resolution after the restore began. */
  readonly timeToResolutionMs?: number;
  readonly complete: boolean;
}

/** The notifications recorded in `file` (one JSON line each); lines that are not one are skipped. */
export function readNotifications(file: string): Notification[] {
  if (!existsSync(file)) return [];
  const out: Notification[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    try {
      out.push(JSON.parse(line) as Notification);
    } catch {
      // A torn last line (the receiver was stopped mid-write): the next read has it whole.
    }
  }
  return out;
}

const key = (alertname: string, id: string): string => `${alertname}\u0000${id}`;

function labelsOf(pairs: readonly (readonly [string, string])[]): Map<string, string> {
  return new Map(pairs);
}

export function compareNotifications(
  expected: readonly ExpectedAlert[],
  baseline: readonly ExpectedAlert[],
  notifications: readonly Notification[],
  times: { readonly faultAt: number; readonly restoreAt?: number },
  /** Links and stations whose alerts come and go on their own (a lossy path): neither expected nor unexpected. */
  noisy: ReadonlySet<string> = new Set(),
): NotificationOutcome {
  const before = new Set(baseline.map((a) => key(a.alertname, a.id)));
  const fresh = expected.filter((a) => !before.has(key(a.alertname, a.id)) && !noisy.has(a.id));
  const wanted = new Map(fresh.map((a) => [key(a.alertname, a.id), a]));
  const notified = new Map<string, number>();
  const resolved = new Map<string, number>();
  const unexpected = new Map<string, { alertname: string; id: string; receiver: string }>();
  const misrouted = new Map<string, { alertname: string; id: string; receiver: string; expected: string }>();
  const distinct = new Set<string>();
  let posts = 0;
  for (const n of notifications) {
    const at = Date.parse(n.at);
    if (!(at >= times.faultAt)) continue;
    posts += 1;
    const firing: string[] = [];
    for (const alert of n.alerts) {
      // Active before the fault: the baseline's (a central check failing all along, say), whatever its kind.
      if (Date.parse(alert.startsAt) < times.faultAt) continue;
      const labels = labelsOf(alert.labels);
      const alertname = labels.get("alertname") ?? "";
      const id = alertId(alertname, labels);
      const k = key(alertname, id);
      if (before.has(k) || noisy.has(id)) continue;
      const want = wanted.get(k);
      if (alert.status === "firing") {
        firing.push(k);
        if (want === undefined) unexpected.set(`${k}\u0000${n.receiver}`, { alertname, id, receiver: n.receiver });
        else if (want.receiver !== n.receiver) misrouted.set(`${k}\u0000${n.receiver}`, { alertname, id, receiver: n.receiver, expected: want.receiver });
        else if (!notified.has(k)) notified.set(k, at - times.faultAt);
      } else if (want !== undefined && times.restoreAt !== undefined && at >= times.restoreAt && !resolved.has(k)) {
        resolved.set(k, at - times.restoreAt);
      }
    }
    if (firing.length > 0) distinct.add(`${n.receiver}\u0000${JSON.stringify(n.groupLabels)}\u0000${firing.sort().join(",")}`);
  }
  const rows = fresh.map((a) => {
    const k = key(a.alertname, a.id);
    const n = notified.get(k);
    const r = resolved.get(k);
    return {
      alertname: a.alertname,
      id: a.id,
      receiver: a.receiver,
      ...(n === undefined ? {} : { notifiedMs: n }),
      ...(r === undefined ? {} : { resolvedMs: r }),
    };
  });
  const allNotified = rows.every((r) => r.notifiedMs !== undefined);
  const allResolved = times.restoreAt === undefined || rows.every((r) => r.resolvedMs !== undefined);
  return {
    expected: rows,
    unexpected: [...unexpected.values()],
    misrouted: [...misrouted.values()],
    distinct: distinct.size,
    posts,
    ...(rows.length > 0 && allNotified ? { timeToNotificationMs: Math.max(...rows.map((r) => r.notifiedMs ?? 0)) } : {}),
    ...(rows.length > 0 && allResolved && times.restoreAt !== undefined ? { timeToResolutionMs: Math.max(...rows.map((r) => r.resolvedMs ?? 0)) } : {}),
    complete: allNotified && allResolved && unexpected.size === 0 && misrouted.size === 0,
  };
}
