import { EVENT_ID, SCALAR_STYLE } from "js-yaml";
import type { FindingSink } from "../finding.ts";
import type { RuleId } from "../rules.ts";
import type { Origin, SourceFile } from "../source.ts";
import { didYouMean } from "../suggest.ts";

/**
 * A small schema library that reads straight from js-yaml's event stream: no
 * generic tree is built, so checking costs about what constructing would, and
 * every finding has its position from the same parse. The schemas are the
 * only source of the model's types (`Infer`).
 */
export const INVALID: unique symbol = Symbol("invalid");

/**
 * Bumped for each mapping read, across all files and runs: a field remembers
 * the stamp of the last mapping it was seen in, which finds duplicate and
 * missing keys without allocating a set per mapping.
 */
let stamps = 0;
export type Invalid = typeof INVALID;

/** State of one walk over one file's nodes (the compacted events of `SourceFile`). */
export class Reader {
  readonly source: SourceFile;
  /** Each node's event type (EVENT_ID). */
  readonly kinds: Uint8Array;
  readonly sink: FindingSink;
  i = 0;
  /** The id of the innermost item being read, for findings. */
  item = "-";

  constructor(source: SourceFile, sink: FindingSink) {
    this.source = source;
    this.kinds = source.kinds;
    this.sink = sink;
  }

  report(rule: RuleId, node: number, message: string, hint: string): void {
    this.sink.add(rule, this.source.at(node), this.item, message, hint);
  }

  /** Report a wrong type for the node at `i` and step past it. */
  wrongType(expected: string): Invalid {
    const node = this.i;
    this.report("schema.wrong-type", node, `expected ${expected}, found ${describeNode(this, node)}`, `write ${expected} here`);
    this.i = this.source.skip(node);
    return INVALID;
  }

  /** The value of the scalar at `node`. */
  text(node: number): string {
    return this.source.value(node);
  }
}

function describeNode(r: Reader, node: number): string {
  const kind = r.kinds[node];
  if (kind === EVENT_ID.MAPPING) return "a mapping";
  if (kind === EVENT_ID.SEQUENCE) return "a list";
  if (kind === EVENT_ID.SCALAR) {
    const what = plainKind(r, node);
    return what === "text" ? `"${clip(r.text(node))}"` : what;
  }
  return "something else";
}

/** A value as a finding may quote it: longer than `max`, its first `max - 3` characters and "…". */
export function clip(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max - 3)}…` : text;
}

const MAYBE_TYPED = new Set([..."0123456789+-.~nNtTfF"].map((c) => c.charCodeAt(0)));

/** What an unquoted scalar would be in YAML's core schema: null, a boolean, a number, or text. */
export function plainKind(r: Reader, node: number): ScalarKind {
  return kindOf(r.text(node), r.source.style(node));
}

export type ScalarKind = "nothing" | "a boolean" | "a number" | "text";

function kindOf(text: string, style: number): ScalarKind {
  if (style !== SCALAR_STYLE.PLAIN) return "text";
  // Most scalars are names and ids: settle them on the first character.
  if (text.length > 0 && !MAYBE_TYPED.has(text.charCodeAt(0))) return "text";
  if (text === "" || text === "~" || text === "null" || text === "Null" || text === "NULL") return "nothing";
  if (/^(true|True|TRUE|false|False|FALSE)$/.test(text)) return "a boolean";
  if (/^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) return "a number";
  return "text";
}

export interface Schema<T> {
  /** How a finding names what was expected: "text", "a mapping", "one of fixed, mobile". */
  readonly expected: string;
  /** Read the node at `r.i`, leave `r.i` just past it. */
  read(r: Reader): T | Invalid;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/**
 * A scalar schema: `convert` gets the scalar's text and returns the value or a
 * finding. Empty plain scalars (`key:`) are missing values; booleans are
 * refused where text is expected, since `name: yes` is rarely meant.
 */
export function scalar<T>(expected: string, convert: (text: string, r: Reader, node: number) => T | Invalid): Schema<T> {
  return {
    expected,
    read(r) {
      const node = r.i;
      if (r.kinds[node] !== EVENT_ID.SCALAR) return r.wrongType(expected);
      const value = r.text(node);
      const kind = kindOf(value, r.source.style(node));
      if (kind === "nothing") {
        r.report("schema.missing-field", node, `no value where ${expected} is expected`, `write ${expected}, or remove the field if it is optional`);
        r.i = node + 1;
        return INVALID;
      }
      if (kind === "a boolean") {
        r.report("schema.wrong-type", node, `expected ${expected}, found the boolean ${value}`, "quote it if you mean the text");
        r.i = node + 1;
        return INVALID;
      }
      r.i = node + 1;
      return convert(value, r, node);
    },
  };
}

export const text = (options: { min?: number; max?: number } = {}): Schema<string> => {
  const min = options.min ?? 1;
  const max = options.max ?? 200;
  return scalar("text", (value, r, node) => {
    if (value.trim().length < min || value.length > max) {
      r.report("schema.bad-value", node, `text of ${value.length} characters; expected ${min}–${max}`, "shorten or fill it in");
      return INVALID;
    }
    return value;
  });
};

export const boolean = (): Schema<boolean> => ({
  expected: "true or false",
  read(r) {
    const node = r.i;
    if (r.kinds[node] !== EVENT_ID.SCALAR || r.source.style(node) !== SCALAR_STYLE.PLAIN) return r.wrongType("true or false");
    const value = r.text(node);
    if (value === "true" || value === "false") {
      r.i = node + 1;
      return value === "true";
    }
    return r.wrongType("true or false");
  },
});

export const number = (options: { min: number; max: number; integer?: boolean; unit?: string }): Schema<number> => {
  const expected = options.integer === true ? "a whole number" : "a number";
  const range = `${options.min}…${options.max}${options.unit === undefined ? "" : ` ${options.unit}`}`;
  return {
    expected,
    read(r) {
      const node = r.i;
      if (r.kinds[node] !== EVENT_ID.SCALAR) return r.wrongType(expected);
      const text = r.text(node);
      if (kindOf(text, r.source.style(node)) !== "a number") return r.wrongType(expected);
      r.i = node + 1;
      const value = Number(text.includes("_") ? text.replaceAll("_", "") : text);
      if (options.integer === true && !Number.isInteger(value)) {
        r.report("schema.wrong-type", node, `expected a whole number, found ${value}`, "drop the fraction");
        return INVALID;
      }
      if (!(value >= options.min && value <= options.max)) {
        r.report("schema.bad-value", node, `${value} is outside ${range}`, `write a value in ${range}`);
        return INVALID;
      }
      return value;
    },
  };
};

export const oneOf = <const V extends string>(values: readonly V[]): Schema<V> => {
  const expected = `one of ${values.join(", ")}`;
  const text = scalar(expected, (value, r, node) => {
    r.report("schema.bad-value", node, `"${clip(value)}" is not ${expected}${didYouMean(value, values)}`, `write one of: ${values.join(", ")}`);
    return INVALID;
  });
  return {
    expected,
    read(r) {
      // The common case, a plain word of the set, is matched in place: no
      // substring is made, and the model shares one string per value.
      const node = r.i;
      if (r.kinds[node] === EVENT_ID.SCALAR && r.source.plainAsWritten(node)) {
        const value = matchAt(r.source.text, r.source.starts[node] ?? 0, r.source.ends[node] ?? 0, values);
        if (value !== undefined) {
          r.i++;
          return value;
        }
      }
      return text.read(r);
    },
  };
};

/** The word of `words` that the text between start and end spells, if any. */
function matchAt<V extends string>(text: string, start: number, end: number, words: readonly V[], from = 0): V | undefined {
  const length = end - start;
  for (let k = from; k < words.length; k++) {
    const word = words[k];
    if (word !== undefined && word.length === length && text.startsWith(word, start)) return word;
  }
  return undefined;
}

/** A list schema keeps its item schema, so docs and tests can walk the shape. */
export interface ListSchema<T> extends Schema<T[]> {
  readonly item: Schema<T>;
}

export const list = <T>(item: Schema<T>, options: { min?: number } = {}): ListSchema<T> => {
  const expected = `a list of ${item.expected}`;
  return {
    expected,
    item,
    read(r) {
      const node = r.i;
      const kind = r.kinds[node];
      if (kind !== EVENT_ID.SEQUENCE) {
        // `key:` with nothing after it is an empty list, which reads naturally in YAML.
        if (kind === EVENT_ID.SCALAR && plainKind(r, node) === "nothing" && (options.min ?? 0) === 0) {
          r.i = node + 1;
          return [];
        }
        return r.wrongType(expected);
      }
      r.i = node + 1;
      const out: T[] = [];
      let ok = true;
      while (r.i < r.kinds.length && r.kinds[r.i] !== EVENT_ID.POP) {
        const value = item.read(r);
        if (value === INVALID) ok = false;
        else out.push(value);
      }
      r.i++;
      if (ok && out.length < (options.min ?? 0)) {
        r.report("schema.bad-value", node, `a list of ${out.length}; at least ${options.min} expected`, "add the missing entries");
        return INVALID;
      }
      return ok ? out : INVALID;
    },
  };
};

type Presence = "required" | "optional" | "default";

export interface Field<T, P extends Presence = Presence> {
  readonly schema: Schema<T>;
  readonly presence: P;
  readonly fallback?: T;
  /** One line for docs and "missing field" hints. */
  readonly doc: string;
  /** Stamp of the last mapping in which this field was seen (see `stamps`). */
  seen: number;
}

export function required<T>(schema: Schema<T>, doc: string): Field<T, "required"> {
  return { schema, presence: "required", doc, seen: -1 };
}
export function optional<T>(schema: Schema<T>, doc: string): Field<T, "optional"> {
  return { schema, presence: "optional", doc, seen: -1 };
}
export function withDefault<T>(schema: Schema<T>, fallback: T, doc: string): Field<T, "default"> {
  return { schema, presence: "default", fallback, doc, seen: -1 };
}

type Shape = Record<string, Field<unknown>>;
type ValueOf<F> = F extends Field<infer T> ? T : never;
type Flatten<T> = { [K in keyof T]: T[K] } & {};

export type ObjectOf<S extends Shape> = Flatten<
  { readonly [K in keyof S as S[K]["presence"] extends "optional" ? never : K]: ValueOf<S[K]> } & {
    readonly [K in keyof S as S[K]["presence"] extends "optional" ? K : never]?: ValueOf<S[K]>;
  }
>;

export interface ObjectOptions {
  /** The field holding the item's id: findings inside name it. */
  readonly id?: string;
  /** Add `origin` (file and node) so later stages can locate the item. */
  readonly origin?: boolean;
  /** Field names that look like secrets are reported as such, not as typos. */
  readonly secretField?: (name: string) => boolean;
}

type WithOrigin<T, O extends ObjectOptions> = O extends { origin: true } ? Flatten<T & { readonly origin: Origin }> : T;

/** An object schema keeps its fields, so docs and tests can walk the shape. */
export interface ObjectSchema<T> extends Schema<T> {
  readonly fields: readonly (readonly [string, Field<unknown>])[];
}

export function object<S extends Shape, const O extends ObjectOptions = Record<never, never>>(shape: S, options?: O): ObjectSchema<WithOrigin<ObjectOf<S>, O>> {
  const names = Object.keys(shape);
  const fields = new Map<string, Field<unknown>>(Object.entries(shape));
  const expected = "a mapping";
  const idField = options?.id;
  return {
    expected,
    fields: Object.entries(shape),
    read(r) {
      const node = r.i;
      if (r.kinds[node] !== EVENT_ID.MAPPING) return r.wrongType(`a mapping with ${names.slice(0, 3).join(", ")}…`);
      const outerItem = r.item;
      if (idField !== undefined) r.item = peekId(r, node, idField) ?? outerItem;
      const stamp = ++stamps;
      const out: Record<string, unknown> = {};
      let ok = true;
      let next = 0;
      r.i = node + 1;
      while (r.i < r.kinds.length && r.kinds[r.i] !== EVENT_ID.POP) {
        const keyNode = r.i;
        if (r.kinds[keyNode] !== EVENT_ID.SCALAR) {
          r.report("schema.wrong-type", keyNode, "a key must be plain text", "write `name: value`");
          r.i = r.source.skip(r.source.skip(keyNode));
          ok = false;
          continue;
        }
        r.i = keyNode + 1;
        // Hand-kept files mostly follow the schema's order: try the fields from
        // the last one matched, in place, before making the key a string.
        let key = r.source.plainAsWritten(keyNode)
          ? matchAt(r.source.text, r.source.starts[keyNode] ?? 0, r.source.ends[keyNode] ?? 0, names, next)
          : undefined;
        if (key !== undefined) next = names.indexOf(key) + 1;
        key ??= r.text(keyNode);
        const field = fields.get(key);
        if (field === undefined) {
          if (options?.secretField?.(key) === true) {
            r.report(
              "security.secret",
              keyNode,
              `field "${clip(key)}" looks like a secret (value not shown)`,
              "remove it: secrets live in Pulumi config secrets, never in the inventory",
            );
          } else {
            r.report("schema.unknown-field", keyNode, `unknown field "${clip(key)}"${didYouMean(key, names)}`, `fields here: ${names.join(", ")}`);
          }
          r.i = r.source.skip(r.i);
          ok = false;
          continue;
        }
        if (field.seen === stamp) {
          r.report("yaml.duplicate-key", keyNode, `field "${key}" appears twice in this mapping`, "keep one of them");
          r.i = r.source.skip(r.i);
          ok = false;
          continue;
        }
        field.seen = stamp;
        const value = field.schema.read(r);
        if (value === INVALID) ok = false;
        else out[key] = value;
      }
      r.i++;
      for (const name of names) {
        const field = fields.get(name);
        if (field === undefined || field.seen === stamp) continue;
        if (field.presence === "required") {
          r.report("schema.missing-field", node, `missing field "${name}"`, `add ${name}: ${field.doc}`);
          ok = false;
        } else if (field.presence === "default") {
          out[name] = field.fallback;
        }
      }
      r.item = outerItem;
      if (!ok) return INVALID;
      if (options?.origin === true) out.origin = { file: r.source.path, node };
      // The loop above checked every key and value against the shape.
      return out as WithOrigin<ObjectOf<S>, O>;
    },
  };
}

/** The item's id, read ahead so findings on earlier fields can name it. */
function peekId(r: Reader, node: number, idField: string): string | undefined {
  let i = node + 1;
  while (i < r.kinds.length && r.kinds[i] !== EVENT_ID.POP) {
    const valueAt = r.source.skip(i);
    if (r.kinds[i] === EVENT_ID.SCALAR && r.text(i) === idField) {
      return r.kinds[valueAt] === EVENT_ID.SCALAR ? r.text(valueAt) : undefined;
    }
    i = r.source.skip(valueAt);
  }
  return undefined;
}
