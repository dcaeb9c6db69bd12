/**
 * Property values as the engine sends them to a resource provider inside a google.protobuf.Struct:
 * secrets, unknowns (preview), assets and archives are objects or strings with Pulumi's signatures
 * (sdk/go/common/resource/sig; the same constants in @pulumi/pulumi/runtime/rpc.js). Only node:
 * built-ins here: setup copies this folder out of the checkout.
 */

export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
export const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";
/** A value not known until the update runs (only in previews). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };
export type Props = Record<string, Value>;

export function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isSecret(v: Value | undefined): v is { [key: string]: Value } {
  return isObject(v) && v[SIG_KEY] === SECRET_SIG;
}

export function secret(v: Value): Value {
  return isSecret(v) ? v : { [SIG_KEY]: SECRET_SIG, value: v };
}

/** The value with every secret wrapper removed, at any depth: what a command is run with. */
export function reveal(v: Value | undefined): Value | undefined {
  if (isSecret(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map((e) => reveal(e) ?? null);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, reveal(e) ?? null]));
  return v;
}

export function containsUnknown(v: Value | undefined): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (isObject(v)) return Object.values(v).some(containsUnknown);
  return false;
}

/** Deep equality, secretness included (a value that becomes secret is a change, as the Go provider's comparison has it). */
export function same(a: Value | undefined, b: Value | undefined): boolean {
  if (a === b) return true;
  // Assets and archives are equal when their hashes are, wherever their bytes come from (the engine's Asset.Equals):
  // a file asset kept at another state directory is no change (ADR 0010).
  const ha = hashedAsset(a);
  const hb = hashedAsset(b);
  if (ha !== undefined || hb !== undefined) return ha !== undefined && ha === hb;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((e, i) => same(e, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && same(a[k], b[k]));
  }
  return false;
}

/** The hash of an asset or archive value the engine sent (it computes one for each), else undefined. */
export function hashedAsset(v: Value | undefined): string | undefined {
  if (!isObject(v) || (v[SIG_KEY] !== ASSET_SIG && v[SIG_KEY] !== ARCHIVE_SIG)) return undefined;
  return typeof v.hash === "string" && v.hash !== "" ? v.hash : undefined;
}

export type DiffKind = "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";

export interface Diff {
  readonly changes: boolean;
  /** Top-level properties whose change replaces the resource. */
  readonly replaces: readonly string[];
  /** Every changed top-level property and how. */
  readonly detailed: ReadonlyMap<string, DiffKind>;
}

/**
 * The diff of old and new inputs, one entry per changed top-level property; a change of a property
 * in `replaceOnChanges` (`triggers`, tagged so in pulumi-command's common/inputs.go and remote/copy.go)
 * replaces the resource, any other change is an update (every resource here has one).
 */
export function diffInputs(olds: Props, news: Props, replaceOnChanges: ReadonlySet<string>, ignoreChanges: readonly string[] = []): Diff {
  const current: Props = { ...news };
  for (const key of ignoreChanges) {
    if (key in olds) current[key] = olds[key] ?? null;
    else delete current[key];
  }
  const detailed = new Map<string, DiffKind>();
  for (const key of [...new Set([...Object.keys(olds), ...Object.keys(current)])].sort()) {
    if (key.startsWith("__")) continue;
    const had = key in olds && olds[key] !== null;
    const has = key in current && current[key] !== null;
    let kind: "add" | "delete" | "update" | undefined;
    if (!had && has) kind = "add";
    else if (had && !has) kind = "delete";
    else if (had && has && (containsUnknown(current[key]) || !same(olds[key], current[key]))) kind = "update";
    if (kind !== undefined) detailed.set(key, replaceOnChanges.has(key) ? `${kind}-replace` : kind);
  }
  const replaces = [...detailed].filter(([, kind]) => kind.endsWith("-replace")).map(([key]) => key);
  return { changes: detailed.size > 0, replaces, detailed };
}

/** Only the input properties of a resource's state: the old inputs, where the engine sent none. */
export function inputsOf(state: Props, inputKeys: readonly string[]): Props {
  return Object.fromEntries(Object.entries(state).filter(([k]) => inputKeys.includes(k)));
}
