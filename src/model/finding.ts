import { RULES, type RuleId, type Severity } from "./rules.ts";

/** A position in a file: 1-based line and column (UTF-16 units, as editors count). */
export interface Location {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * One finding of a run. Findings are results, not exceptions: the loader
 * collects every one of them and only the CLI turns them into an exit code.
 */
export interface Finding {
  readonly severity: Severity;
  /** Stable rule id, e.g. `schema.unknown-field` (see ADR 0002). */
  readonly rule: RuleId;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The id of the item the finding is about, or `-` for a whole file. */
  readonly item: string;
  /** What is wrong. Never echoes a secret. */
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
  readonly waivable: boolean;
  /** The id of the waiver that accepts this finding. */
  readonly waived?: string;
}

/** A sink's findings and its counts per (file, rule), as they cross threads. */
export interface CollectedFindings {
  readonly findings: readonly Finding[];
  readonly counts: readonly (readonly [string, number])[];
}

/** Per file and rule, findings past this many are counted, not listed. */
export const MAX_FINDINGS_PER_RULE = 100;

/** Collects findings; caps each (file, rule) so a garbage file cannot flood a run. */
export class FindingSink {
  readonly findings: Finding[] = [];
  private readonly counts = new Map<string, number>();

  add(rule: RuleId, at: Location, item: string, message: string, hint: string): void {
    const key = `${at.file}\u0000${rule}`;
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count > MAX_FINDINGS_PER_RULE) return;
    const spec = RULES[rule];
    this.findings.push({
      severity: spec.severity,
      rule,
      file: at.file,
      line: at.line,
      col: at.col,
      item,
      message,
      hint,
      waivable: spec.waivable,
    });
  }

  /** What this sink holds, to hand to another thread's sink (`absorb`). */
  collected(): CollectedFindings {
    return { findings: this.findings, counts: [...this.counts] };
  }

  /**
   * Another sink's findings (another thread's, for other files), as if they
   * had been added here, in their order: the cap counts them together.
   */
  absorb(other: CollectedFindings): void {
    const listed = new Map<string, number>();
    for (const finding of other.findings) {
      const key = `${finding.file}\u0000${finding.rule}`;
      listed.set(key, (listed.get(key) ?? 0) + 1);
      const count = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, count);
      if (count <= MAX_FINDINGS_PER_RULE) this.findings.push(finding);
    }
    // The other sink's unlisted excess still counts.
    for (const [key, count] of other.counts) this.counts.set(key, (this.counts.get(key) ?? 0) + count - (listed.get(key) ?? 0));
  }

  /** Replace the uncounted excess by one `input.truncated` finding per (file, rule). */
  close(): Finding[] {
    for (const [key, count] of this.counts) {
      if (count <= MAX_FINDINGS_PER_RULE) continue;
      const [file = "", rule = ""] = key.split("\u0000");
      const spec = RULES["input.truncated"];
      this.findings.push({
        severity: spec.severity,
        rule: "input.truncated",
        file,
        line: 1,
        col: 1,
        item: "-",
        message: `${count - MAX_FINDINGS_PER_RULE} more ${rule} findings in this file were not listed`,
        hint: "fix the listed ones first; the file is probably not what it should be",
        waivable: spec.waivable,
      });
    }
    this.counts.clear();
    return this.findings;
  }
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "error" && f.waived === undefined);
}

/** Sort by file, then position, then rule: the order a person fixes them in. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
  );
}

/** One line for a person: `file:line:col severity rule item: message (hint)`. */
export function formatFinding(f: Finding): string {
  const waived = f.waived === undefined ? "" : ` [waived by ${f.waived}]`;
  const hint = f.hint === "" ? "" : ` (${f.hint})`;
  return `${f.file}:${f.line}:${f.col} ${f.severity} ${f.rule} ${f.item}: ${f.message}${hint}${waived}`;
}
