import { join } from "node:path";
import { dump, EVENT_ID } from "js-yaml";
import { inState, stateDir as defaultStateDir } from "../lib/state.ts";
import { type Finding, FindingSink, type Location, sortFindings } from "./finding.ts";
import { parseSource } from "./parse.ts";
import { readSource } from "./read.ts";
import { clip, type Infer, INVALID, list, number, object, oneOf, optional, Reader, required, type Schema, scalar, text, withDefault } from "./schema/core.ts";
import { cidr } from "./schema/scalars.ts";
import { SourceFile } from "./source.ts";
import { didYouMean } from "./suggest.ts";

/**
 * A stack's settings (`stacks/Pulumi.<stack>.yaml`, under `config:`): one
 * schema for every `amadegi:` key, read once with positions by the inventory's
 * own machinery, without the Pulumi engine. Provisioning (before the engine,
 * and inside the program on Pulumi's own config object), probing, drift and
 * the rehearsal are thin users of what `readStackSettingsFile` returns; each
 * says which keys it requires (`requireSettings`).
 *
 * Paths to state (the pins overlay, the authority's certificate, the devices'
 * requests and certificates) are relative to the state directory
 * (AMADEGI_STATE_DIR, default `.amadegi`): they are returned resolved, so
 * moving the state moves everything they name. Keys of other namespaces
 * (`pulumi:`, a provider's) are Pulumi's and are left alone.
 */

export const environments = ["rehearsal", "staging", "production"] as const;
export type Environment = (typeof environments)[number];

export function isEnvironment(value: string): value is Environment {
  return (environments as readonly string[]).includes(value);
}

/** The inventory a stack reads when it names none (relative to the repository root). */
export const DEFAULT_INVENTORY = "inventory";

/** The inventory a stack's settings name (`amadegi:inventory`), else DEFAULT_INVENTORY: relative to the repository root. */
export function stackInventory(settings: Partial<Pick<StackSettings, "amadegi:inventory">> | undefined): string {
  return settings?.["amadegi:inventory"] ?? DEFAULT_INVENTORY;
}

/** What a stack may be called: its settings file is `Pulumi.<name>.yaml`. */
export const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The Pulumi project, Pulumi.yaml's `name`: the one project every stack here belongs to. */
export const PROJECT = "amadegi";

/** Pulumi's file backend (the only one amadegi uses) has one organization, named this. */
export const FILE_BACKEND_ORGANIZATION = "organization";

export type StackRef = { readonly ok: true; readonly stack: string } | { readonly ok: false; readonly reason: string; readonly hint: string };

/**
 * A stack as `pulumi -s` takes it: `NAME`, `organization/NAME` or
 * `organization/amadegi/NAME` (Pulumi's fully qualified name on the file
 * backend) — the same stack, whose settings are stacks/Pulumi.<NAME>.yaml.
 * Another organization or project is refused as Pulumi refuses it: this
 * repository's backend has no other, and another project's stack is not one
 * this program may touch.
 */
export function parseStackRef(text: string): StackRef {
  // The text is the caller's, shown quoted and escaped (no control character reaches a terminal), and clipped.
  const shown = (part: string): string => JSON.stringify(clip(part, 120));
  const parts = text.split("/");
  const stack = parts.at(-1) ?? "";
  const named = STACK_NAME.test(stack) ? stack : "NAME";
  const [organization, project] = parts.length === 3 ? [parts[0], parts[1]] : parts.length === 2 ? [parts[0], PROJECT] : [FILE_BACKEND_ORGANIZATION, PROJECT];
  if (parts.length > 3)
    return {
      ok: false,
      reason: `stack ${shown(text)} has more than three parts`,
      hint: `write NAME, ${FILE_BACKEND_ORGANIZATION}/NAME or ${FILE_BACKEND_ORGANIZATION}/${PROJECT}/NAME`,
    };
  if (organization !== FILE_BACKEND_ORGANIZATION)
    return {
      ok: false,
      reason:
        `stack ${shown(text)}: organization ${shown(organization ?? "")} is not this backend's ` +
        `(the file backend has one organization, "${FILE_BACKEND_ORGANIZATION}")`,
      hint: `write ${FILE_BACKEND_ORGANIZATION}/${PROJECT}/${named} or ${named}`,
    };
  if (project !== PROJECT)
    return {
      ok: false,
      reason: `stack ${shown(text)} belongs to project ${shown(project ?? "")}, but this repository's project (Pulumi.yaml) is "${PROJECT}"`,
      hint: `write ${FILE_BACKEND_ORGANIZATION}/${PROJECT}/${named} or ${named}`,
    };
  if (!STACK_NAME.test(stack))
    return {
      ok: false,
      reason: `${shown(stack)} is not a stack name`,
      hint: "a stack name is letters, digits, '.', '_' and '-' (at most 100), starting with a letter or digit",
    };
  return { ok: true, stack };
}

export function stackSettingsPath(stacksDir: string, stack: string): string {
  return join(stacksDir, `Pulumi.${stack}.yaml`);
}

/** A path to state: relative to the state directory `root`, returned resolved; an absolute one as written. */
function statePath(root: string, expected: string, example: string, accept: (value: string) => boolean = () => true): Schema<string> {
  return scalar(expected, (value, r, node) => {
    if (value.length > 500 || value.includes("\0") || !accept(value)) {
      r.report("schema.bad-value", node, `"${value.slice(0, 60)}" is not ${expected}`, `write e.g. ${example} (relative to the state directory)`);
      return INVALID;
    }
    // The old spelling, relative to the repository root, would now name <state>/.amadegi/…: say so.
    if (value.startsWith(".amadegi/")) {
      r.report(
        "schema.bad-value",
        node,
        `"${value.slice(0, 60)}" starts with .amadegi/, but this path is relative to the state directory`,
        `write ${clip(value.slice(".amadegi/".length), 60)} (the state directory is $AMADEGI_STATE_DIR, default .amadegi)`,
      );
      return INVALID;
    }
    return inState(value, root);
  });
}

/** An http(s) URL with a host and no credentials in it (a token goes in a credentials file). */
/**
 * Why `value` is no webhook URL (not an http(s) URL with a host, or one holding credentials), or
 * undefined: the stack's setting and `export --webhook` alike.
 */
export function webhookProblem(value: string): "not-url" | "credentials" | undefined {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (value.length > 500 || url === undefined || !/^https?:$/.test(url.protocol) || url.hostname === "") return "not-url";
  return url.username !== "" || url.password !== "" ? "credentials" : undefined;
}

function webhookUrl(): Schema<string> {
  return scalar("an http(s) URL", (value, r, node) => {
    const problem = webhookProblem(value);
    if (problem === "not-url") {
      r.report("schema.bad-value", node, `"${clip(value, 60)}" is not an http(s) URL`, "write e.g. https://sms.example.org/alertmanager");
      return INVALID;
    }
    if (problem === "credentials") {
      r.report(
        "schema.bad-value",
        node,
        "the URL holds credentials",
        "remove them; put the token in a file on the monitor server and name it in credentialsFile",
      );
      return INVALID;
    }
    return value;
  });
}

/** When the engine writes its state during `up` and `destroy` (`amadegi:engine.checkpoints`, ADR 0019). */
export const CHECKPOINTS = ["end", "every-step"] as const;
export type Checkpoints = (typeof CHECKPOINTS)[number];

/** The schema, with state paths resolved against `state` (the state directory, absolute). */
export function stackSettingsSchema(state: string) {
  const probe = object({
    allow: withDefault(
      list(cidr(), { min: 1 }),
      [],
      "the address ranges this stack may reach (CIDR); nothing else is ever sent a packet. Every use of the stack requires it (check, drift, up)",
    ),
    maxRate: withDefault(number({ min: 1, max: 1_000_000, integer: true, unit: "probes/s" }), 20_000, "the global ceiling on new probes per second"),
    concurrency: withDefault(number({ min: 1, max: 20_000, integer: true }), 1024, "probes in flight at once"),
    from: optional(text({ max: 100 }), "where the campaign observes from (host, namespace); default: the host name"),
    netns: optional(text({ max: 100 }), "the network namespace campaigns run in (the rehearsal's amadegi-r-probe); amadegi check re-runs itself inside it"),
    ca: optional(
      statePath(state, "a path to a PEM file", "rehearsal/ca.crt"),
      "PEM bundle of the election CA that tls/https chains must lead to; relative to the state directory",
    ),
    clientCert: optional(text({ max: 500 }), "PEM client certificate for mTLS endpoints"),
    clientKey: optional(text({ max: 500 }), "PEM key of the client certificate"),
    pins: optional(
      statePath(state, "a path to a .yaml file", "pins: rehearsal/pins.yaml", (v) => /\.ya?ml$/.test(v)),
      "a pins overlay (the rehearsal's rehearsal/pins.yaml) whose SSH host keys and users replace the inventory's; relative to the state directory",
    ),
  });
  return object({
    "amadegi:environment": optional(oneOf(environments), "which kind of stack: rehearsal, staging or production (the change freeze guards production)"),
    "amadegi:inventory": optional(text({ max: 500 }), `the inventory directory, relative to the repository root (default: ${DEFAULT_INVENTORY})`),
    "amadegi:probe": optional(probe, "what the stack may reach, and how its campaigns run (docs/checks.md)"),
    "amadegi:pki": optional(
      object({
        caFile: optional(
          statePath(state, "a path", "caFile: rehearsal/ca.crt"),
          "where `amadegi up` leaves the authority's certificate (public); relative to the state directory",
        ),
      }),
      "the stack's election PKI",
    ),
    "amadegi:devices": optional(
      object({
        requests: required(
          statePath(state, "a path to a directory", "requests: rehearsal/devices"),
          "where devices leave their certificate requests; relative to the state directory",
        ),
        issued: required(
          statePath(state, "a path to a directory", "issued: rehearsal/devices/issued"),
          "where the stack's PKI leaves their certificates; relative to the state directory",
        ),
        keys: optional(
          statePath(state, "a path to a .yaml file", "keys: rehearsal/devices/keys.yaml", (v) => /\.ya?ml$/.test(v)),
          "a device-keys overlay (the rehearsal's rehearsal/devices/keys.yaml) whose fingerprints replace the inventory's device.fingerprint; " +
            "relative to the state directory",
        ),
      }),
      "the devices the stack's PKI certifies",
    ),
    "amadegi:alerting": optional(
      object({
        webhook: required(webhookUrl(), "where every receiver posts its notifications (a messaging or SMS gateway that dispatches by receiver)"),
        escalation: optional(webhookUrl(), "the national operations centre's own URL (operators, central services, certificates)"),
        credentialsFile: optional(text({ max: 500 }), "a file on the monitor server holding the bearer token the gateway expects (a path, never the token)"),
      }),
      "where the monitor role's Alertmanager sends notifications (docs/monitoring.md)",
    ),
    "amadegi:ssh": optional(
      object({ identityFile: optional(text({ max: 500 }), "the private key provisioning and drift log in with (a path, never the key)") }),
      "how provisioning and drift log in",
    ),
    "amadegi:engine": optional(
      object({
        checkpoints: withDefault(
          oneOf(CHECKPOINTS),
          "end",
          "when the Pulumi engine writes the state during up and destroy: at the end (fast; an engine that dies part-way leaves the " +
            "operation to be run again, ADR 0019) or after every step",
        ),
      }),
      "how the Pulumi engine records an up or a destroy",
    ),
  });
}

export type StackSettings = Infer<ReturnType<typeof stackSettingsSchema>>;
export type StackKey = keyof StackSettings;
export type ProbeSettings = NonNullable<StackSettings["amadegi:probe"]>;

export interface StackSettingsFile {
  /** The file, or what the settings were read from (Pulumi's config object). */
  readonly file: string;
  /** The keys written that passed the schema (and the readers' requirements); absent when the file could not be read. */
  readonly settings?: StackSettings;
  readonly findings: readonly Finding[];
  /** Where `config:` is (the file's start without one): where a missing key is reported. */
  readonly config: Location;
  /** Where each key written is, valid or not. */
  readonly written: ReadonlyMap<StackKey, Location>;
}

export interface StackSettingsOptions {
  /** The state directory relative state paths are read from (default: stateDir()). */
  readonly stateDir?: string;
}

/** Read a stack settings file. A file that cannot be read or parsed: findings, no settings. */
export function readStackSettingsFile(file: string, options: StackSettingsOptions = {}): StackSettingsFile {
  const sink = new FindingSink();
  const source = readSource(file, sink);
  if (source === undefined || !parseSource(source, sink)) return unreadable(file, sink);
  return readSettings(source, sink, options);
}

/**
 * The same schema over values that are not a file: Pulumi's config object
 * inside the program (`amadegi:` keys; a mapping's value as an object).
 * `label` stands for the file in findings, whose positions are the values'
 * own rendering: name findings by item, not by line.
 */
export function checkStackSettings(label: string, values: Readonly<Record<string, unknown>>, options: StackSettingsOptions = {}): StackSettingsFile {
  const sink = new FindingSink();
  const source = new SourceFile(label, dump({ config: values }));
  if (!parseSource(source, sink)) return unreadable(label, sink);
  return readSettings(source, sink, options);
}

/** The keys whose values are mappings (Pulumi keeps them as JSON text). */
export function mappingKeys(): ReadonlySet<string> {
  return new Set(
    stackSettingsSchema("/")
      .fields.filter(([, f]) => "fields" in f.schema)
      .map(([name]) => name),
  );
}

function unreadable(file: string, sink: FindingSink): StackSettingsFile {
  return { file, findings: sortFindings(sink.close()), config: { file, line: 1, col: 1 }, written: new Map() };
}

function readSettings(source: SourceFile, sink: FindingSink, options: StackSettingsOptions): StackSettingsFile {
  const schema = stackSettingsSchema(options.stateDir ?? defaultStateDir());
  const fields = new Map(schema.fields);
  const names = schema.fields.map(([name]) => name);
  const kinds = source.kinds;
  const found = kinds[1] === EVENT_ID.MAPPING ? source.find(1, ["config"]) : 1;
  const config = found === 1 ? undefined : found;
  const out: Record<string, unknown> = {};
  const written = new Map<StackKey, Location>();
  const r = new Reader(source, sink);
  if (config !== undefined && kinds[config] === EVENT_ID.MAPPING) {
    r.i = config + 1;
    while (r.i < kinds.length && kinds[r.i] !== EVENT_ID.POP) {
      const keyNode = r.i;
      if (kinds[keyNode] !== EVENT_ID.SCALAR) {
        r.report("schema.wrong-type", keyNode, "a key must be plain text", "write `amadegi:name: value`");
        r.i = source.skip(source.skip(keyNode));
        continue;
      }
      const key = r.text(keyNode);
      const field = fields.get(key);
      r.i = keyNode + 1;
      if (field === undefined || written.has(key as StackKey)) {
        if (field !== undefined) r.report("yaml.duplicate-key", keyNode, `setting "${key}" appears twice`, "keep one of them");
        else if (key.startsWith("amadegi:"))
          r.report("schema.unknown-field", keyNode, `unknown setting "${clip(key)}"${didYouMean(key, names)}`, `amadegi's settings: ${names.join(", ")}`);
        r.i = source.skip(r.i);
        continue;
      }
      written.set(key as StackKey, source.at(r.i));
      r.item = key;
      const value = field.schema.read(r);
      r.item = "-";
      if (value !== INVALID) out[key] = value;
    }
  } else if (config !== undefined && !isNothing(r, config)) {
    // `config:` with nothing after it has no keys; anything else but a mapping is a mistake.
    r.report("schema.wrong-type", config, "config: is not a mapping", "write the settings under config:, one `amadegi:name: value` a line");
  }
  return {
    file: source.path,
    // Each key was checked against its field's schema above.
    settings: out as StackSettings,
    findings: sortFindings(sink.close()),
    config: source.at(config ?? 1),
    written,
  };
}

function isNothing(r: Reader, node: number): boolean {
  return r.kinds[node] === EVENT_ID.SCALAR && r.text(node).trim() === "";
}

/** A key a reader needs: the key itself, or (with `field`) a field of its mapping, present and not empty. */
export interface StackRequirement {
  readonly key: StackKey;
  readonly field?: string;
  readonly message: string;
  readonly hint: string;
}

/**
 * `read` with a reader's requirements: a missing key is a finding where
 * `config:` is, a missing field one where its key is, and a key whose field
 * is missing is left out of the settings. A key written but invalid already
 * has its findings; a file that could not be read has nothing to require.
 */
export function requireSettings(read: StackSettingsFile, requirements: readonly StackRequirement[]): StackSettingsFile {
  if (read.settings === undefined) return read;
  const settings: Record<string, unknown> = { ...read.settings };
  const sink = new FindingSink();
  for (const req of requirements) {
    const at = read.written.get(req.key);
    if (req.field === undefined) {
      if (at === undefined) sink.add("schema.missing-field", read.config, "-", req.message, req.hint);
      continue;
    }
    const value = settings[req.key];
    if (typeof value !== "object" || value === null) continue;
    const field = (value as Record<string, unknown>)[req.field];
    if (field === undefined || (Array.isArray(field) && field.length === 0)) {
      sink.add("schema.missing-field", at ?? read.config, req.key, req.message, req.hint);
      delete settings[req.key];
    }
  }
  const added = sink.close();
  if (added.length === 0) return read;
  return { ...read, settings: settings as StackSettings, findings: sortFindings([...read.findings, ...added]) };
}
