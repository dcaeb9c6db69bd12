/**
 * The rule catalogue: every finding's rule id, its severity and whether a
 * waiver may accept it. ADR 0002 holds the same table for people; a test keeps
 * the two identical, so this is the one place a severity changes.
 */
export type Severity = "error" | "warning";

export interface RuleSpec {
  readonly severity: Severity;
  readonly waivable: boolean;
  /**
   * A rule `validate` never reports: another command judges it (`amadegi
   * drift`), so a waiver of it is never "unused" in validate's eyes.
   */
  readonly judgedBy?: "drift";
}

const error = { severity: "error", waivable: false } as const;
const warning = { severity: "warning", waivable: false } as const;
const waivableError = { severity: "error", waivable: true } as const;
const waivableWarning = { severity: "warning", waivable: true } as const;
const drift = { severity: "error", waivable: true, judgedBy: "drift" } as const;

export const RULES = {
  "input.no-inventory": error,
  "input.missing-file": error,
  "input.unknown-file": warning,
  "input.symlink": error,
  "input.not-a-file": error,
  "input.unreadable": error,
  "input.too-large": error,
  "input.binary": error,
  "input.encoding": error,
  "input.empty": error,
  "input.truncated": warning,
  "yaml.syntax": error,
  "yaml.duplicate-key": error,
  "yaml.alias": error,
  "yaml.tag": error,
  "yaml.too-deep": error,
  "yaml.multi-document": error,
  "schema.unknown-field": error,
  "schema.missing-field": error,
  "schema.wrong-type": error,
  "schema.bad-value": error,
  "schema.bad-id": error,
  "schema.bad-date": error,
  "schema.bad-address": error,
  "schema.bad-key": error,
  "schema.bad-time-zone": error,
  "uniqueness.id": error,
  "uniqueness.name": error,
  "uniqueness.station-name": waivableWarning,
  "uniqueness.address": error,
  "uniqueness.circuit": error,
  "uniqueness.device-serial": error,
  "uniqueness.device-key": error,
  "uniqueness.ssh-key": error,
  "reference.unknown": error,
  "reference.not-a-gateway": error,
  "reference.pop-operator": error,
  "reference.pop-cycle": error,
  "reference.district-mismatch": error,
  "redundancy.fixed-diversity": waivableError,
  "redundancy.mobile-none": waivableError,
  "redundancy.mobile-diversity": waivableWarning,
  "redundancy.blind-spot": waivableWarning,
  "redundancy.unsurveyed": waivableWarning,
  "capacity.gateway-overload": waivableError,
  "capacity.failover-overload": waivableWarning,
  "capacity.same-site": waivableError,
  "lifecycle.overdue": waivableWarning,
  "lifecycle.after-election": waivableWarning,
  "drift.not-provisioned": drift,
  "drift.changed-on-server": drift,
  "drift.never-observed": drift,
  "security.secret": error,
  "security.bidi-control": error,
  "security.host-key-missing": error,
  "security.range-outside-policy": error,
  "waiver.not-waivable": error,
  "waiver.expired": warning,
  "waiver.unused": warning,
  "internal.error": error,
} as const satisfies Record<string, RuleSpec>;

export type RuleId = keyof typeof RULES;

export const RULE_IDS = Object.keys(RULES) as RuleId[];

/** Whether a rule is judged by another command than validate (drift). */
export function judgedElsewhere(rule: RuleId): boolean {
  const spec: RuleSpec = RULES[rule];
  return spec.judgedBy !== undefined;
}

export function isRuleId(value: string): value is RuleId {
  return Object.hasOwn(RULES, value);
}
