import { fingerprintOf } from "../../model/index.ts";
import type { Observation } from "../types.ts";
import type { Condition, Operand } from "./condition.ts";
import { spec } from "./placeholders.ts";

/**
 * Judge one observation against a check's conditions. Each condition passes,
 * falls in its warn band (degraded) or fails (down, with the observed value).
 */
export interface EvalContext {
  /** When the campaign runs (ms since the epoch): days left are counted from here. */
  readonly now: number;
  /** The end of election day in its time zone (ms since the epoch). */
  readonly electionEnd: number;
  /** The target's pinned SSH host key, for `[HOST_KEY] == pinned`. */
  readonly pinnedKey?: string;
  /** Addresses of the inventory's servers with a role, for `role(NAME)`. */
  readonly roleAddresses?: (role: string) => readonly string[];
}

export interface Verdict {
  readonly outcome: "pass" | "warn" | "fail";
  /** Conditions that failed, each with what was observed. */
  readonly failed: string[];
  /** Conditions in their warn band. */
  readonly warned: string[];
}

const DAY = 86_400_000;

export function evaluate(conditions: readonly Condition[], observation: Observation, ctx: EvalContext): Verdict {
  const failed: string[] = [];
  const warned: string[] = [];
  for (const c of conditions) {
    const raw = c.placeholder === "RTT" ? (observation.values.RTT ?? observation.timings.total) : observation.values[c.placeholder];
    if (raw === undefined) {
      failed.push(`${c.text} (the probe gave no [${c.placeholder}])`);
      continue;
    }
    const observed = display(c, raw);
    if (!holds(c, c.value, raw, ctx)) failed.push(`${c.text} (observed ${observed})`);
    else if (c.warn !== undefined && !holds(c, c.warn, raw, ctx)) warned.push(`${c.text} (observed ${observed}, in the warn band ${c.warn.display})`);
  }
  return { outcome: failed.length > 0 ? "fail" : warned.length > 0 ? "warn" : "pass", failed, warned };
}

type Raw = string | number | boolean | readonly string[];

function holds(c: Condition, operand: Operand, raw: Raw, ctx: EvalContext): boolean {
  const type = spec(c.placeholder).type;
  switch (type) {
    case "duration":
    case "percent":
    case "integer":
    case "version": {
      let value = type === "version" ? versionOf(raw) : typeof raw === "number" ? raw : Number(raw);
      if (Number.isNaN(value)) return false;
      if (spec(c.placeholder).magnitude === true) value = Math.abs(value);
      const bound = operand.kind === "number" ? operand.value : operand.kind === "election" ? (ctx.electionEnd - ctx.now) / DAY + operand.days : Number.NaN;
      return compare(value, c.op, bound);
    }
    case "string": {
      const text = String(raw);
      if (operand.kind === "regex") return operand.value.test(text);
      if (operand.kind !== "string") return false;
      if (c.op === "contains") return text.includes(operand.value);
      return c.op === "==" ? text === operand.value : text !== operand.value;
    }
    case "list": {
      const got = (Array.isArray(raw) ? (raw as readonly string[]) : [String(raw)]).map(String);
      const want = operand.kind === "list" ? operand.value : operand.kind === "role" ? (ctx.roleAddresses?.(operand.role) ?? []) : [];
      if (c.op === "contains") return want.every((w) => got.includes(w));
      return got.length === new Set(want).size && want.every((w) => got.includes(w)) && new Set(got).size === got.length;
    }
    case "key": {
      const want = operand.kind === "pinned" ? ctx.pinnedKey : operand.kind === "string" ? operand.value : undefined;
      if (want === undefined) return false;
      const same = keyFingerprint(String(raw)) === keyFingerprint(want);
      return c.op === "==" ? same : !same;
    }
  }
}

function compare(a: number, op: string, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    default:
      return false;
  }
}

/** "TLSv1.3", "1.3", 1.3 → 1.3; anything else NaN. */
export function versionOf(raw: Raw): number {
  if (typeof raw === "number") return raw;
  const match = /^(?:TLS ?v?)?1\.([0-3])$/i.exec(String(raw).trim());
  return match === null ? Number.NaN : 1 + Number(match[1]) / 10;
}

/** A host key as `type base64 [comment]` or `SHA256:…`, as its SHA256 fingerprint. */
export function keyFingerprint(key: string): string {
  const text = key.trim();
  if (text.startsWith("SHA256:")) return text.replace(/=+$/, "");
  const blob = text.split(/\s+/)[1];
  if (blob === undefined) return text;
  return fingerprintOf(Buffer.from(blob, "base64"));
}

function display(c: Condition, raw: Raw): string {
  const s = spec(c.placeholder);
  if (Array.isArray(raw)) return `[${(raw as readonly string[]).join(", ")}]`;
  if (typeof raw === "number") {
    const n = Math.round(raw * 100) / 100;
    if (s.type === "percent") return `${n}%`;
    if (s.type === "duration") return `${n}${s.unit ?? "ms"}`;
    return String(n);
  }
  const text = String(raw);
  return s.type === "string" || s.type === "key" ? JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text) : text;
}
