import type { FindingSink } from "./finding.ts";
import type { RuleId } from "./rules.ts";
import type { Origin, Sources } from "./source.ts";

/** How stages 4 and 5 report: at an item's origin, or at one of its fields. */
export interface Reporter {
  (rule: RuleId, origin: Origin, path: readonly (string | number)[], item: string, message: string, hint: string): void;
  readonly sources: Sources;
}

export function reporter(sink: FindingSink, sources: Sources): Reporter {
  const report = (rule: RuleId, origin: Origin, path: readonly (string | number)[], item: string, message: string, hint: string) =>
    sink.add(rule, sources.locate(origin, ...path), item, message, hint);
  return Object.assign(report, { sources });
}

/** `file:line:col` of an origin, for messages that point at a first occurrence. */
export function where(sources: Sources, origin: Origin, ...path: (string | number)[]): string {
  const at = sources.locate(origin, ...path);
  return `${at.file}:${at.line}:${at.col}`;
}
