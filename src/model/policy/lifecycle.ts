import { daysBetween, formatBoth } from "../dates.ts";
import type { Reporter } from "../report.ts";
import type { Inventory } from "../types.ts";

/**
 * Lifecycle: a link past its committed date and not live is overdue, reported
 * with who owns it; a date after election day is as good as none.
 */
export function checkLifecycle(inv: Inventory, report: Reporter): void {
  const { today } = inv;
  const day = inv.election.day;
  for (const station of inv.stations) {
    station.links.forEach((link, index) => {
      const { state, committed, owner } = link.lifecycle;
      if (committed === undefined || state === "live" || state === "retired") return;
      const at = ["links", index, "lifecycle", "committed"];
      if (committed < today) {
        const late = daysBetween(committed, today);
        report(
          "lifecycle.overdue",
          station.origin,
          at,
          link.id,
          `link ${link.id} (${link.medium}, ${link.operator}) at station ${station.id} was committed for ${formatBoth(committed)} ` +
            `and is still ${state}, ${late} day${late === 1 ? "" : "s"} late; owner: ${owner}`,
          `ask ${owner} for a new date and record it, or record a waiver`,
        );
      }
      if (committed > day) {
        report(
          "lifecycle.after-election",
          station.origin,
          at,
          link.id,
          `link ${link.id} at station ${station.id} is committed for ${formatBoth(committed)}, after election day ${formatBoth(day)}; owner: ${owner}`,
          `ask ${owner} for a date before election day, or plan another link`,
        );
      }
    });
  }
}
