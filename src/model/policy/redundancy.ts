import { noDiversePair, popChains } from "../links.ts";
import type { Reporter } from "../report.ts";
import type { Inventory, Link, Station } from "../types.ts";

/**
 * Redundancy (ADR 0002, Policies). A link counts when it is declared and not
 * retired, and is not a blind spot. A fixed station needs two counting links
 * sharing no operator and no point of presence, backhaul included; a mobile
 * station (سیار) needs one counting link, and should have two operators.
 */
export function checkRedundancy(inv: Inventory, report: Reporter): void {
  const threshold = inv.election.policy.blindSpotDbm;
  const popsOf = popChains(inv);
  for (const station of inv.stations) {
    const counting: Link[] = [];
    station.links.forEach((link, index) => {
      if (link.lifecycle.state === "retired") return;
      if (link.medium === "mobile") {
        if (link.survey === undefined) {
          report(
            "redundancy.unsurveyed",
            station.origin,
            ["links", index],
            link.id,
            `link ${link.id} (${link.operator}) at station ${station.id} has no signal survey; it counts, unproven`,
            "survey the signal at the station and record survey.signalDbm",
          );
        } else if (link.survey.signalDbm < threshold) {
          report(
            "redundancy.blind-spot",
            station.origin,
            ["links", index, "survey", "signalDbm"],
            link.id,
            `link ${link.id} (${link.operator}) at station ${station.id} is in a blind spot: ` +
              `${link.survey.signalDbm} dBm is below ${threshold} dBm; it does not count`,
            `ask ${link.operator} for coverage (a tower or repeater), or plan another medium`,
          );
          return;
        }
      }
      counting.push(link);
    });
    if (station.kind === "fixed") checkFixed(station, counting, popsOf, report);
    else checkMobile(station, counting, report);
  }
}

function checkFixed(station: Station, counting: readonly Link[], popsOf: (l: Link) => readonly string[], report: Reporter): void {
  const none = noDiversePair(counting, popsOf);
  if (none === undefined) return;
  const count = `${counting.length} counting link${counting.length === 1 ? "" : "s"}`;
  const why = none.reason === "" ? count : `${count}, but ${none.reason}`;
  report(
    "redundancy.fixed-diversity",
    station.origin,
    ["links"],
    station.id,
    `fixed station ${station.id} has no two diverse links: ${why}`,
    "add a link from another operator through another exchange or tower, or record a waiver",
  );
}

function checkMobile(station: Station, counting: readonly Link[], report: Reporter): void {
  if (counting.length === 0) {
    report(
      "redundancy.mobile-none",
      station.origin,
      ["links"],
      station.id,
      `mobile station ${station.id} has no counting link`,
      "plan a mobile link on an operator with coverage where it will stand",
    );
    return;
  }
  const operators = new Set(counting.map((l) => l.operator));
  if (operators.size < 2) {
    report(
      "redundancy.mobile-diversity",
      station.origin,
      ["links"],
      station.id,
      `mobile station ${station.id} relies on one operator (${[...operators].join(", ")})`,
      "add a SIM of a second operator",
    );
  }
}
