import type { Target } from "./types.ts";

/**
 * The order a campaign runs its targets in. Checks form a graph through their
 * targets' `dependsOn`; a target runs only after everything it depends on has
 * a result. Checks are grouped into phases: first the ICMP sweep (ICMP checks
 * that depend on nothing but ICMP), level by level, then the rest, level by
 * level, ICMP first within a level. The phases order each lane and say which
 * upstreams a target waits for (those of earlier phases); the lanes run side by
 * side (src/probe/campaign/index.ts).
 */
export interface Phase {
  readonly icmp: Target[];
  readonly other: Target[];
}

/** The check id of a target key (`<check>/…`, ids never contain a slash). */
export function checkOfKey(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? key : key.slice(0, slash);
}

export function planPhases(targets: readonly Target[]): Phase[] {
  const kinds = new Map<string, string>();
  const deps = new Map<string, Set<string>>();
  for (const t of targets) {
    kinds.set(t.check, t.kind);
    let set = deps.get(t.check);
    if (set === undefined) deps.set(t.check, (set = new Set()));
    for (const k of t.dependsOn ?? []) {
      const c = checkOfKey(k);
      if (c !== t.check) set.add(c);
    }
  }
  const rank = new Map<string, { tier: number; level: number }>();
  const visiting = new Set<string>();
  const rankOf = (check: string): { tier: number; level: number } => {
    const known = rank.get(check);
    if (known !== undefined) return known;
    // A cycle cannot come from a valid catalog; break it rather than loop.
    if (visiting.has(check)) return { tier: 1, level: 0 };
    visiting.add(check);
    let tier = kinds.get(check) === "icmp" ? 0 : 1;
    let level = 0;
    for (const d of deps.get(check) ?? []) {
      const r = rankOf(d);
      if (r.tier > tier) tier = r.tier;
      if (r.level + 1 > level) level = r.level + 1;
    }
    visiting.delete(check);
    const result = { tier, level };
    rank.set(check, result);
    return result;
  };
  const phases = new Map<number, Phase>();
  for (const t of targets) {
    const r = rankOf(t.check);
    const n = r.tier * 1_000_000 + r.level;
    let phase = phases.get(n);
    if (phase === undefined) phases.set(n, (phase = { icmp: [], other: [] }));
    (t.kind === "icmp" ? phase.icmp : phase.other).push(t);
  }
  return [...phases].sort(([a], [b]) => a - b).map(([, p]) => p);
}
