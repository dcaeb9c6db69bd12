import { ownEntry } from "../../lib/records.ts";
import { ROLES } from "../../model/index.ts";
import { closest } from "../../model/kit.ts";
import type { ProbeKind } from "../types.ts";
import { re2Pattern } from "./re2.ts";
import {
  ALL_OPERATORS,
  DURATION_UNITS,
  type DurationUnit,
  isPlaceholder,
  type Operator,
  OPERATORS_BY_TYPE,
  PLACEHOLDER_NAMES,
  type Placeholder,
  placeholdersOf,
  spec,
} from "./placeholders.ts";

/**
 * The condition syntax: `[PLACEHOLDER] OPERATOR VALUE [warn VALUE]`, e.g.
 * `[RTT] < 150ms warn 80ms`, `[CERTIFICATE_EXPIRATION] > election+14d`,
 * `[STATUS] == 200`, `[BODY] contains "ok"`, `[HOST_KEY] == pinned`.
 * A parse either gives a typed Condition or one error with its offset in the
 * text, so the loader can point at the exact column. docs/checks.md is the
 * user's description of this grammar.
 */

export type Operand =
  /** A number in the placeholder's unit (ms, %, days…); `display` is as written. */
  | { readonly kind: "number"; readonly value: number; readonly display: string }
  /** Days left must beat election day plus `days` (resolved when a campaign starts). */
  | { readonly kind: "election"; readonly days: number; readonly display: string }
  | { readonly kind: "string"; readonly value: string; readonly display: string }
  /** `re2`: the same pattern as blackbox_exporter reads it (re2.ts). */
  | { readonly kind: "regex"; readonly value: RegExp; readonly re2: string; readonly display: string }
  | { readonly kind: "list"; readonly value: readonly string[]; readonly display: string }
  /** The addresses of the inventory's servers with this role. */
  | { readonly kind: "role"; readonly role: string; readonly display: string }
  /** The target's pinned SSH host key from the inventory. */
  | { readonly kind: "pinned"; readonly display: string };

export interface Condition {
  readonly text: string;
  readonly placeholder: Placeholder;
  readonly op: Operator;
  readonly value: Operand;
  /** A stricter bound: beyond it (but within `value`) the result is degraded. */
  readonly warn?: Operand;
}

export interface ConditionError {
  /** Offset in the condition text of what is wrong. */
  readonly offset: number;
  readonly message: string;
  readonly hint: string;
}

export type ParseResult = { readonly ok: true; readonly condition: Condition } | { readonly ok: false; readonly error: ConditionError };

class Fail {
  readonly error: ConditionError;
  constructor(offset: number, message: string, hint: string) {
    this.error = { offset, message, hint };
  }
}

const ORDERING = new Set<Operator>(["<", "<=", ">", ">="]);
/** Common slips, mapped to the operator the writer meant. */
const OPERATOR_SLIPS: Record<string, Operator> = {
  "=": "==",
  "=<": "<=",
  "=>": ">=",
  "<>": "!=",
  "===": "==",
  "!==": "!=",
  "~=": "matches",
  "=~": "matches",
  has: "contains",
  includes: "contains",
};

/** Parse one condition for a check of probe `kind`. */
export function parseCondition(text: string, kind: ProbeKind, roles: readonly string[] = ROLES): ParseResult {
  try {
    return { ok: true, condition: new Parser(text, kind, roles).condition() };
  } catch (error) {
    if (error instanceof Fail) return { ok: false, error: error.error };
    throw error;
  }
}

class Parser {
  private i = 0;
  private readonly text: string;
  private readonly kind: ProbeKind;
  private readonly roles: readonly string[];

  constructor(text: string, kind: ProbeKind, roles: readonly string[]) {
    this.text = text;
    this.kind = kind;
    this.roles = roles;
  }

  condition(): Condition {
    this.space();
    const placeholder = this.placeholder();
    const type = spec(placeholder).type;
    this.space();
    const op = this.operator(placeholder);
    this.space();
    const value = this.operand(placeholder, op);
    this.space();
    let warn: Operand | undefined;
    if (this.i < this.text.length) {
      const at = this.i;
      const word = this.word();
      if (word !== "warn") {
        const meant = word !== "" && (/^warn/i.test(word) || closest(word, ["warn"]) !== undefined);
        const hint = meant ? 'write "warn"' : "a condition ends after its value, or with `warn VALUE` for a degraded band";
        throw new Fail(at, `unexpected "${clip(this.text.slice(at))}" after the value${meant ? ' (did you mean "warn"?)' : ""}`, hint);
      }
      if (!ORDERING.has(op) || !(type === "duration" || type === "percent" || type === "integer")) {
        const message = `a warn band needs a number compared with <, <=, > or >= (here ${op} on [${placeholder}])`;
        throw new Fail(at, message, "drop `warn …`, or compare with < or >");
      }
      this.space();
      const warnAt = this.i;
      warn = this.operand(placeholder, op);
      this.space();
      if (this.i < this.text.length)
        throw new Fail(this.i, `unexpected "${clip(this.text.slice(this.i))}" after the warn value`, "a condition ends after its warn value");
      checkBand(op, value, warn, warnAt);
    }
    return { text: this.text.trim(), placeholder, op, value, ...(warn === undefined ? {} : { warn }) };
  }

  private placeholder(): Placeholder {
    const at = this.i;
    if (this.text[this.i] !== "[") {
      throw new Fail(
        at,
        "a condition starts with a placeholder in brackets",
        `e.g. [${placeholdersOf(this.kind)[0] ?? "RTT"}] < 150ms; a ${this.kind} probe gives ${list(placeholdersOf(this.kind))}`,
      );
    }
    const end = this.text.indexOf("]", at);
    if (end < 0) throw new Fail(at, "unclosed placeholder: no ]", "write it as [NAME]");
    const name = this.text.slice(at + 1, end).trim();
    this.i = end + 1;
    const upper = name.toUpperCase();
    if (!isPlaceholder(upper)) {
      const own = placeholdersOf(this.kind);
      const guess = closest(upper, own) ?? closest(upper, PLACEHOLDER_NAMES);
      throw new Fail(
        at + 1,
        `unknown placeholder [${clip(name)}]${guess === undefined ? "" : ` (did you mean [${guess}]?)`}`,
        `a ${this.kind} probe gives ${list(own)}`,
      );
    }
    if (upper !== name) throw new Fail(at + 1, `placeholder [${name}] must be written in capitals (did you mean [${upper}]?)`, `write [${upper}]`);
    if (!(spec(upper).kinds as readonly ProbeKind[]).includes(this.kind)) {
      throw new Fail(
        at + 1,
        `[${upper}] is not measured by a ${this.kind} probe`,
        `a ${this.kind} probe gives ${list(placeholdersOf(this.kind))}; [${upper}] comes from ${spec(upper).kinds.join(", ")}`,
      );
    }
    return upper;
  }

  private operator(placeholder: Placeholder): Operator {
    const at = this.i;
    let word: string;
    if (/[=!<>~]/.test(this.text[this.i] ?? "")) {
      while (/[=!<>~]/.test(this.text[this.i] ?? "")) this.i++;
      word = this.text.slice(at, this.i);
    } else {
      word = this.word();
    }
    const allowed = OPERATORS_BY_TYPE[spec(placeholder).type];
    if (word === "") throw new Fail(at, `[${placeholder}] needs an operator`, `write one of ${allowed.join(" ")} after it`);
    const known = (ALL_OPERATORS as readonly string[]).includes(word) ? (word as Operator) : undefined;
    if (known === undefined) {
      const meant =
        ownEntry(OPERATOR_SLIPS, word) ??
        closest(
          word,
          allowed.filter((o) => /[a-z]/.test(o)),
        );
      throw new Fail(
        at,
        `unknown operator "${clip(word)}"${meant === undefined ? "" : ` (did you mean "${meant}"?)`}`,
        `[${placeholder}] takes ${allowed.join(" ")}`,
      );
    }
    if (!allowed.includes(known)) {
      throw new Fail(at, `[${placeholder}] is ${describeType(placeholder)}: "${known}" does not apply`, `use one of ${allowed.join(" ")}`);
    }
    return known;
  }

  private operand(placeholder: Placeholder, op: Operator): Operand {
    const s = spec(placeholder);
    const at = this.i;
    if (at >= this.text.length) throw new Fail(at, `[${placeholder}] ${op} needs a value`, example(placeholder));
    switch (s.type) {
      case "duration":
        return this.duration(placeholder);
      case "percent": {
        const { value, display, unit } = this.number();
        if (unit !== "%")
          throw new Fail(
            at + display.length - unit.length,
            unit === "" ? `[${placeholder}] is a percentage: "${display}" has no %` : `unknown unit "${unit}" for a percentage`,
            `write e.g. ${value}%`,
          );
        if (value > 100) throw new Fail(at, `${display} is more than 100%`, "write a percentage from 0% to 100%");
        return { kind: "number", value, display };
      }
      case "integer": {
        const { value, display, unit } = this.number();
        if (unit !== "" || !Number.isInteger(value)) throw new Fail(at, `[${placeholder}] is a whole number, not "${display}"`, example(placeholder));
        return { kind: "number", value, display };
      }
      case "version":
        return this.version(placeholder);
      case "string":
        return this.string(placeholder, op);
      case "list":
        return this.listOperand(placeholder, op);
      case "key": {
        const word = this.peekWord();
        if (word === "pinned") {
          this.word();
          return { kind: "pinned", display: "pinned" };
        }
        if (this.text[this.i] === '"' || /^(ssh|ecdsa)-/.test(this.text.slice(this.i))) {
          const { value, display } = this.quotedOrRest();
          return { kind: "string", value, display };
        }
        throw new Fail(
          at,
          `[${placeholder}] compares with "pinned" (the inventory's host key) or a quoted key` +
            `${closest(word, ["pinned"]) === undefined ? "" : ' (did you mean "pinned"?)'}`,
          "write [HOST_KEY] == pinned",
        );
      }
    }
  }

  private duration(placeholder: Placeholder): Operand {
    const s = spec(placeholder);
    const unitMs = DURATION_UNITS[s.unit ?? "ms"];
    const at = this.i;
    if (/[a-z]/i.test(this.text[at] ?? "")) {
      const word = this.word();
      if (word !== "election") {
        const meant = s.electionRelative === true ? closest(word, ["election"]) : undefined;
        throw new Fail(at, `"${clip(word)}" is not a duration${meant === undefined ? "" : ` (did you mean "${meant}"?)`}`, example(placeholder));
      }
      if (s.electionRelative !== true) throw new Fail(at, `[${placeholder}] cannot be compared with election day`, example(placeholder));
      this.space();
      const sign = this.text[this.i];
      if (sign !== "+" && sign !== "-") return { kind: "election", days: 0, display: "election" };
      this.i++;
      this.space();
      const offset = this.durationLiteral(placeholder);
      const days = ((sign === "-" ? -1 : 1) * offset.ms) / DURATION_UNITS.d;
      return { kind: "election", days, display: `election${sign}${offset.display}` };
    }
    const { ms, display } = this.durationLiteral(placeholder);
    return { kind: "number", value: ms / unitMs, display };
  }

  private durationLiteral(placeholder: Placeholder): { ms: number; display: string } {
    const at = this.i;
    const { value, display, unit } = this.number();
    const units = Object.keys(DURATION_UNITS);
    if (unit === "") throw new Fail(this.i, `"${display}" needs a unit`, `write e.g. ${display}ms; units: ${units.join(", ")}`);
    if (!Object.hasOwn(DURATION_UNITS, unit)) {
      const meant = closest(unit, units);
      throw new Fail(
        at + display.length - unit.length,
        `unknown unit "${clip(unit)}"${meant === undefined ? "" : ` (did you mean "${meant}"?)`}`,
        `[${placeholder}] is a duration; units: ${units.join(", ")}`,
      );
    }
    return { ms: value * DURATION_UNITS[unit as DurationUnit], display };
  }

  /** A number and the letters (or %) right after it. */
  private number(): { value: number; display: string; unit: string } {
    const at = this.i;
    const match = /^-?(\d+(\.\d+)?|\.\d+)([A-Za-zµ%]*)/.exec(this.text.slice(at));
    if (match === null) throw new Fail(at, `expected a number, found "${clip(this.text.slice(at))}"`, "write a number such as 150ms, 5% or 200");
    this.i = at + match[0].length;
    const unit = match[3] ?? "";
    return { value: Number(match[0].slice(0, match[0].length - unit.length)), display: match[0], unit };
  }

  private version(placeholder: Placeholder): Operand {
    const at = this.i;
    const word = this.token();
    const match = /^(?:TLS ?v?)?1\.([0-3])$/i.exec(word);
    if (match === null) throw new Fail(at, `"${clip(word)}" is not a TLS version`, `write 1.2 or 1.3 (e.g. [${placeholder}] >= 1.2)`);
    return { kind: "number", value: 1 + Number(match[1]) / 10, display: `1.${match[1]}` };
  }

  private string(placeholder: Placeholder, op: Operator): Operand {
    const at = this.i;
    const { value, display } = this.quotedOrRest();
    if (op !== "matches") return { kind: "string", value, display };
    let regex: RegExp;
    try {
      regex = new RegExp(value);
    } catch (error) {
      throw new Fail(at, `not a regular expression: ${(error as Error).message}`, `fix the pattern after [${placeholder}] matches`);
    }
    const re2 = re2Pattern(value);
    if (!re2.ok)
      throw new Fail(
        at,
        `${re2.why} cannot be checked by blackbox_exporter (RE2 syntax)`,
        `rewrite the pattern after [${placeholder}] matches without it: Prometheus's prober runs the same check`,
      );
    return { kind: "regex", value: regex, re2: re2.pattern, display };
  }

  private listOperand(placeholder: Placeholder, op: Operator): Operand {
    const at = this.i;
    if (this.text[this.i] === "[") {
      const end = this.text.indexOf("]", this.i);
      if (end < 0) throw new Fail(at, "unclosed list: no ]", "write e.g. [10.0.0.1, 10.0.0.2]");
      const items = this.text
        .slice(this.i + 1, end)
        .split(",")
        .map((s) => s.trim().replace(/^"(.*)"$/, "$1"))
        .filter((s) => s !== "");
      this.i = end + 1;
      return { kind: "list", value: items, display: this.text.slice(at, end + 1) };
    }
    const word = this.token();
    const role = /^role\(([^)]*)\)$/.exec(word);
    if (role !== null) {
      const name = role[1] ?? "";
      if (!this.roles.includes(name)) {
        const meant = closest(name, this.roles);
        throw new Fail(at + 5, `no server role "${clip(name)}"${meant === undefined ? "" : ` (did you mean "${meant}"?)`}`, `roles: ${this.roles.join(", ")}`);
      }
      return { kind: "role", role: name, display: word };
    }
    if (op === "==")
      throw new Fail(at, `[${placeholder}] == needs a list such as [10.0.0.1, 10.0.0.2] or role(NAME)`, "or use `contains` for one expected answer");
    return { kind: "list", value: [word.replace(/^"(.*)"$/, "$1")], display: word };
  }

  private quotedOrRest(): { value: string; display: string } {
    const at = this.i;
    if (this.text[at] !== '"') {
      const word = this.token();
      return { value: word, display: word };
    }
    let out = "";
    for (let i = at + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === "\\" && i + 1 < this.text.length) {
        out += this.text[++i];
      } else if (c === '"') {
        this.i = i + 1;
        return { value: out, display: this.text.slice(at, i + 1) };
      } else {
        out += c;
      }
    }
    throw new Fail(at, "unclosed quote", 'close the text with "');
  }

  /** Everything up to the next space. */
  private token(): string {
    const at = this.i;
    while (this.i < this.text.length && !/\s/.test(this.text[this.i] ?? "")) this.i++;
    return this.text.slice(at, this.i);
  }

  private word(): string {
    const at = this.i;
    while (/[A-Za-z_]/.test(this.text[this.i] ?? "")) this.i++;
    return this.text.slice(at, this.i);
  }

  private peekWord(): string {
    const at = this.i;
    const word = this.word();
    this.i = at;
    return word;
  }

  private space(): void {
    while (/\s/.test(this.text[this.i] ?? "")) this.i++;
  }
}

/** A warn bound must sit inside the pass range: for `< 150ms`, warn below 150ms. */
function checkBand(op: Operator, value: Operand, warn: Operand, at: number): void {
  if (value.kind !== warn.kind || (value.kind !== "number" && value.kind !== "election")) {
    throw new Fail(
      at,
      `the warn value ${warn.display} must be the same kind of value as ${value.display}`,
      "write both as durations, or both relative to election",
    );
  }
  const a = value.kind === "number" ? value.value : value.days;
  const b = warn.kind === "number" ? warn.value : warn.kind === "election" ? warn.days : a;
  const below = op === "<" || op === "<=";
  if (below ? b >= a : b <= a) {
    throw new Fail(
      at,
      `warn ${warn.display} is outside the pass range ${op} ${value.display}`,
      below ? `the warn bound must be below ${value.display}` : `the warn bound must be above ${value.display}`,
    );
  }
}

function describeType(placeholder: Placeholder): string {
  const type = spec(placeholder).type;
  return type === "duration"
    ? "a duration"
    : type === "percent"
      ? "a percentage"
      : type === "integer"
        ? "a whole number"
        : type === "version"
          ? "a TLS version"
          : type === "list"
            ? "a list"
            : type === "key"
              ? "a key"
              : "text";
}

function example(placeholder: Placeholder): string {
  const examples: Record<Placeholder, string> = {
    RTT: "[RTT] < 150ms warn 80ms",
    LOSS: "[LOSS] <= 5%",
    JITTER: "[JITTER] < 30ms",
    STATUS: "[STATUS] == 200",
    BODY: '[BODY] contains "ok"',
    CERTIFICATE_EXPIRATION: "[CERTIFICATE_EXPIRATION] > election+14d",
    TLS_VERSION: "[TLS_VERSION] >= 1.2",
    DNS_ANSWERS: "[DNS_ANSWERS] == role(auth)",
    NTP_OFFSET: "[NTP_OFFSET] < 100ms",
    STRATUM: "[STRATUM] <= 3",
    HOST_KEY: "[HOST_KEY] == pinned",
    BANNER: '[BANNER] contains "OpenSSH"',
    CHECKIN_AGE: "[CHECKIN_AGE] < 24h",
    REJECTED_ATTEMPTS: "[REJECTED_ATTEMPTS] <= 1000000 warn 0",
  };
  return `e.g. ${examples[placeholder]}`;
}

function list(names: readonly string[]): string {
  return names.map((n) => `[${n}]`).join(", ");
}

function clip(text: string): string {
  return text.length > 30 ? `${text.slice(0, 27)}…` : text;
}
