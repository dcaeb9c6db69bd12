import { formatBoth, type IsoDate } from "./dates.ts";
import type { Finding } from "./finding.ts";
import type { Reporter } from "./report.ts";
import { judgedElsewhere, RULES, type RuleId } from "./rules.ts";
import type { Inventory, Waiver } from "./types.ts";

/**
 * Apply waivers to the findings of stages 4–5: a live waiver (until today
 * inclusive) of a waivable rule accepts the findings with its rule and item.
 * Expired, unwaivable and unused waivers are findings themselves.
 */
export function applyWaivers(findings: readonly Finding[], inv: Inventory, report: Reporter): Finding[] {
  const live = new Map<string, string>();
  for (const w of inv.waivers) {
    if (!RULES[w.rule].waivable) {
      report(
        "waiver.not-waivable",
        w.origin,
        ["rule"],
        w.id,
        `waiver ${w.id}: rule ${w.rule} cannot be waived`,
        "fix the finding instead; ADR 0002 lists the waivable rules",
      );
    } else if (w.until < inv.today) {
      report(
        "waiver.expired",
        w.origin,
        ["until"],
        w.id,
        `waiver ${w.id} (${w.rule} for ${w.item}) expired on ${formatBoth(w.until)}; its findings stand`,
        "fix the deficiency, or have the committee renew the waiver with a new until date",
      );
    } else {
      live.set(`${w.rule}\u0000${w.item}`, w.id);
    }
  }
  const used = new Set<string>();
  const out = findings.map((f) => {
    if (!f.waivable) return f;
    const id = live.get(`${f.rule}\u0000${f.item}`);
    if (id === undefined) return f;
    used.add(id);
    return { ...f, waived: id };
  });
  for (const w of inv.waivers) {
    // A drift waiver accepts what `amadegi drift` finds: validate cannot tell whether it is used.
    if (judgedElsewhere(w.rule)) continue;
    if (live.get(`${w.rule}\u0000${w.item}`) === w.id && !used.has(w.id)) {
      report(
        "waiver.unused",
        w.origin,
        ["item"],
        w.id,
        `waiver ${w.id} accepts no finding (${w.rule} for ${w.item})`,
        "the deficiency is fixed: delete the waiver",
      );
    }
  }
  return out;
}

/** What the waivers say of an item: the live waiver that accepts it, else the first that named it and expired. */
export interface WaiverMatch {
  readonly live?: Waiver;
  readonly expired?: Waiver;
}

export type WaiverLookup = (rules: readonly RuleId[], items: readonly string[], date: IsoDate) => WaiverMatch;

/**
 * The one waiver lookup of what is judged after validate (the gate's criteria,
 * drift): over the inventory's waivers, the query is the rules that may accept
 * a deficiency and the items it may be named by, most specific first (a link,
 * then its station). Candidates come item by item, each in the inventory's
 * order; the first live on `date` (until on or after it) accepts, else the
 * first candidate, expired, is named. No rule: nothing can accept it.
 */
export function waiverLookup(waivers: readonly Waiver[]): WaiverLookup {
  const byItem = new Map<string, Waiver[]>();
  for (const w of waivers) {
    const named = byItem.get(w.item);
    if (named === undefined) byItem.set(w.item, [w]);
    else named.push(w);
  }
  return (rules, items, date) => {
    let expired: Waiver | undefined;
    for (const [i, item] of items.entries()) {
      if (items.indexOf(item) !== i) continue; // an item named twice is looked up once
      for (const w of byItem.get(item) ?? []) {
        if (!rules.includes(w.rule)) continue;
        if (w.until >= date) return { live: w };
        expired ??= w;
      }
    }
    return expired === undefined ? {} : { expired };
  };
}
