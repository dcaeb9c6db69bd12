import type { IsoDate, RuleId } from "../../model/index.ts";

/**
 * What a drift report says: per object, what the inventory declares against
 * what the stack provisioned against what is observed; each comparison that
 * fails is one item of a kind, with its owner and the waiver that accepts it.
 * The contract between the comparison (compare.ts), the latest file
 * (latest.ts), history, the gate's criterion and the reports.
 */

export const DRIFT_KINDS = ["not-provisioned", "not-declared", "changed-on-server", "never-observed", "unreachable"] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** For people: what each kind means. */
export const DRIFT_TITLES: Readonly<Record<DriftKind, string>> = {
  "not-provisioned": "declared, not provisioned yet (run amadegi up)",
  "not-declared": "provisioned, no longer declared",
  "changed-on-server": "changed on the server",
  "never-observed": "declared, never observed",
  unreachable: "facts could not be collected",
};

/**
 * The waiver rule of each kind (src/model/rules.ts). A server no longer
 * declared is not an item of the inventory, so no waiver can name it; an
 * unreachable server is not a known deficiency but missing knowledge.
 */
export const DRIFT_RULES: Readonly<Partial<Record<DriftKind, RuleId>>> = {
  "not-provisioned": "drift.not-provisioned",
  "changed-on-server": "drift.changed-on-server",
  "never-observed": "drift.never-observed",
};

export interface DriftItem {
  /** Stable across runs (history compares runs by it): `<kind> <object>[ <subject>]`. */
  readonly key: string;
  readonly kind: DriftKind;
  /** What a waiver names: a server id, or a link id (never-observed links). */
  readonly object: string;
  readonly objectKind: "server" | "link";
  /** Within the object: a file path, or `service <name>`. */
  readonly subject?: string;
  readonly station?: string;
  readonly district?: string;
  /** Who acts: it-committee for servers; a link's owner for links. */
  readonly owner: string;
  /** One line for a person, with the values compared. */
  readonly detail: string;
  readonly declared?: string;
  readonly provisioned?: string;
  readonly observed?: string;
  /** The waiver rule of its kind (none: no waiver can accept it). */
  readonly rule?: RuleId;
  /** The live waiver that accepts it. */
  readonly waivedBy?: string;
  /** A waiver that named it and has expired (the item stands). */
  readonly waiverExpired?: string;
}

export type DriftCounts = Record<DriftKind, number>;

export interface FactsSummary {
  readonly server: string;
  readonly reachable: boolean;
  readonly error?: string;
  readonly at: string;
  readonly files: number;
  readonly listening: number;
  readonly versions: Readonly<Record<string, string | null>>;
}

export type DriftVerdict = "clean" | "drift" | "cannot-judge";

export interface DriftReport {
  readonly version: 1;
  readonly id: string;
  readonly stack: string;
  readonly at: string;
  /** The day waivers were judged on. */
  readonly date: IsoDate;
  readonly inventory: { readonly dir: string; readonly servers: number; readonly links: number };
  /** `stack outputs`, or the file the provisioned state was read from. */
  readonly provisionedFrom: string;
  /** Servers the provisioned state lists (absent: the stack has no outputs yet). */
  readonly provisionedServers?: number;
  readonly results?: { readonly file: string; readonly campaign?: string; readonly finishedAt?: string };
  /** What could not be compared, and why (no usable results: never-observed not judged). */
  readonly notJudged: readonly string[];
  /** Comparisons made; each item is one that failed. */
  readonly checked: number;
  /** Unwaived items per kind. */
  readonly counts: DriftCounts;
  /** Waived items per kind. */
  readonly waived: DriftCounts;
  readonly verdict: DriftVerdict;
  readonly exitCode: 0 | 1 | 2;
  readonly items: readonly DriftItem[];
  readonly facts: readonly FactsSummary[];
  /** What changed since the stack's previous drift report (history); set by the command. */
  readonly changes?: DriftChanges;
  /** How long each part took (ms): the parts that grow with the stations and those that grow with the servers (issue 20). */
  readonly timings?: DriftTimings;
}

export interface DriftTimings {
  /** The inventory, its pins and device keys read. */
  readonly inventoryMs: number;
  /** Every server's files rendered from the inventory (what is declared). */
  readonly renderMs: number;
  /** The provisioned state read (the stack's outputs, through the engine). */
  readonly outputsMs: number;
  /** The facts of every server, over SSH. */
  readonly factsMs: number;
  /** The campaign's results read. */
  readonly evidenceMs: number;
  /** Declared, provisioned and observed compared. */
  readonly compareMs: number;
}

export interface DriftChanges {
  readonly previous?: { readonly id: string; readonly at: string };
  readonly appeared: readonly string[];
  readonly resolved: readonly string[];
}

export const emptyCounts = (): DriftCounts => ({ "not-provisioned": 0, "not-declared": 0, "changed-on-server": 0, "never-observed": 0, unreachable: 0 });
