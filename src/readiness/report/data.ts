import type { Inventory, Station } from "../../model/index.ts";
import { linkObserved } from "../criteria.ts";
import { type Evidence, isHealthy } from "../evidence.ts";
import type { GateRun } from "../gate.ts";

/**
 * What the report draws, derived once from the gate's run: each station's
 * status (from the evidence of its links), and readiness per district, per
 * operator and per owner. Plain data, shared by the HTML, Markdown and JSON.
 */

/** ready: every counting link healthy; partial: some path healthy, not all; down: none; unknown: no evidence. */
export type StationStatus = "ready" | "partial" | "down" | "unknown";
export const STATION_STATUSES: readonly StationStatus[] = ["ready", "partial", "down", "unknown"];

export interface Tally {
  readonly id: string;
  readonly name: string;
  readonly total: number;
  readonly ready: number;
  /** Objects the failing criteria name (for owners). */
  readonly open?: number;
  /** The province's id (for districts). */
  readonly province?: string;
}

export interface ReportData {
  /** Per station, in inventory order: its status, where it is, and its district's id. */
  readonly points: readonly { readonly status: StationStatus; readonly lat: number; readonly lon: number; readonly district: string }[];
  readonly stationCounts: Readonly<Record<StationStatus, number>>;
  readonly byDistrict: readonly Tally[];
  readonly byOperator: readonly Tally[];
  readonly byOwner: readonly Tally[];
}

function stationStatus(inv: Inventory, ev: Evidence | undefined, station: Station): StationStatus {
  if (ev === undefined) return "unknown";
  const threshold = inv.election.policy.blindSpotDbm;
  const links = station.links.filter(
    (l) => l.lifecycle.state !== "retired" && !(l.medium === "mobile" && l.survey !== undefined && l.survey.signalDbm < threshold),
  );
  let healthy = 0;
  let seen = 0;
  for (const link of links) {
    const o = linkObserved(ev, link);
    if (o !== undefined && o.status !== "unknown") seen++;
    if (link.lifecycle.state === "live" && isHealthy(o?.status)) healthy++;
  }
  if (seen === 0 && links.some((l) => l.lifecycle.state === "live")) return "unknown";
  if (healthy === 0) return "down";
  return healthy === links.length ? "ready" : "partial";
}

function sorted(map: Map<string, { name: string; total: number; ready: number; open?: number }>): Tally[] {
  // Worst share first: the committee reads the top of the list.
  return [...map].map(([id, t]) => ({ id, ...t })).sort((a, b) => a.ready / a.total - b.ready / b.total || b.total - a.total || (a.id < b.id ? -1 : 1));
}

export function reportData(run: GateRun): ReportData {
  const { inventory: inv, evidence: ev, result } = run;
  const points: { status: StationStatus; lat: number; lon: number; district: string }[] = [];
  const stationCounts: Record<StationStatus, number> = { ready: 0, partial: 0, down: 0, unknown: 0 };
  const districts = new Map<string, { name: string; province?: string; total: number; ready: number }>();
  const operators = new Map<string, { name: string; total: number; ready: number }>();
  const owners = new Map<string, { name: string; total: number; ready: number; open: number }>();
  for (const station of inv.stations) {
    const status = stationStatus(inv, ev, station);
    points.push({ status, lat: station.location.lat, lon: station.location.lon, district: station.district });
    stationCounts[status]++;
    let d = districts.get(station.district);
    if (d === undefined) {
      const district = inv.districtsById.get(station.district);
      d = { name: district?.name ?? station.district, ...(district === undefined ? {} : { province: district.province }), total: 0, ready: 0 };
    }
    d.total++;
    if (status === "ready") d.ready++;
    districts.set(station.district, d);
    for (const link of station.links) {
      if (link.lifecycle.state === "retired") continue;
      const ok = ev !== undefined && link.lifecycle.state === "live" && isHealthy(linkObserved(ev, link)?.status);
      const o = operators.get(link.operator) ?? { name: inv.operatorsById.get(link.operator)?.name ?? link.operator, total: 0, ready: 0 };
      o.total++;
      if (ok) o.ready++;
      operators.set(link.operator, o);
      const w = owners.get(link.lifecycle.owner) ?? {
        name: inv.operatorsById.get(link.lifecycle.owner)?.name ?? link.lifecycle.owner,
        total: 0,
        ready: 0,
        open: 0,
      };
      w.total++;
      if (ok) w.ready++;
      owners.set(link.lifecycle.owner, w);
    }
  }
  for (const c of result.criteria) {
    for (const [owner, n] of Object.entries(c.byOwner)) {
      const w = owners.get(owner) ?? { name: inv.operatorsById.get(owner)?.name ?? owner, total: 0, ready: 0, open: 0 };
      w.open += n;
      owners.set(owner, w);
    }
  }
  // Owners that own no link (our team, for servers and devices) have no share: list them by open items.
  const byOwner = sorted(new Map([...owners].filter(([, w]) => w.total > 0)));
  const noLinks = [...owners].filter(([, w]) => w.total === 0).map(([id, w]) => ({ id, ...w }));
  return { points, stationCounts, byDistrict: sorted(districts), byOperator: sorted(operators), byOwner: [...noLinks, ...byOwner] };
}
