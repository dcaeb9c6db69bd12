import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { ProbeError } from "../lib/errors.ts";
import type { Finding } from "../model/finding.ts";
import { type Infer, INVALID, list, number, object, optional, required, type Schema, scalar, text, withDefault } from "../model/schema/core.ts";
import { cidr } from "../model/schema/scalars.ts";
import { readStackKey } from "../model/stackfile.ts";

/** A path to a YAML file (`….yaml`), at most 500 characters. */
function yamlFile(): Schema<string> {
  return scalar("a path to a .yaml file", (value, r, node) => {
    if (value.length <= 500 && /\.ya?ml$/.test(value) && !value.includes("\0")) return value;
    r.report("schema.bad-value", node, `"${value.slice(0, 60)}" is not a path to a .yaml file`, "write e.g. pins: .amadegi/rehearsal/pins.yaml (relative to the repository root)");
    return INVALID;
  });
}

/**
 * The probe settings of a stack, read from `stacks/Pulumi.<stack>.yaml`
 * (key `amadegi:probe`) without the Pulumi engine: a campaign must be able to
 * run where no engine is installed. Other keys of the file belong to Pulumi
 * and the provisioning layer and are left alone.
 */
export const probeSettings = object({
  allow: required(list(cidr(), { min: 1 }), "the address ranges this stack may probe (CIDR); nothing else is ever sent a packet"),
  maxRate: withDefault(number({ min: 1, max: 1_000_000, integer: true, unit: "probes/s" }), 20_000, "the global ceiling on new probes per second"),
  concurrency: withDefault(number({ min: 1, max: 20_000, integer: true }), 1024, "probes in flight at once"),
  from: optional(text({ max: 100 }), "where the campaign observes from (host, namespace); default: the host name"),
  netns: optional(text({ max: 100 }), "the network namespace campaigns run in (the rehearsal's amadegi-r-probe); amadegi check re-runs itself inside it"),
  ca: optional(text({ max: 500 }), "PEM bundle of the election CA that tls/https chains must lead to"),
  clientCert: optional(text({ max: 500 }), "PEM client certificate for mTLS endpoints"),
  clientKey: optional(text({ max: 500 }), "PEM key of the client certificate"),
  pins: optional(
    yamlFile(),
    "a pins overlay (the rehearsal's .amadegi/rehearsal/pins.yaml) whose SSH host keys and users replace the inventory's; relative to the stacks directory's parent (the repository root)",
  ),
});

export type ProbeSettings = Infer<typeof probeSettings>;

/**
 * Where `amadegi:probe.pins` points: a relative path is read from the stacks
 * directory's parent (the repository root for `stacks/`), so the setting means
 * the same file whatever the working directory; an absolute path as written.
 */
export function pinsPath(pins: string, stacksDir = "stacks"): string {
  return isAbsolute(pins) ? pins : join(dirname(resolve(stacksDir)), pins);
}

export interface StackSettingsResult {
  readonly file: string;
  readonly probe?: ProbeSettings;
  readonly findings: Finding[];
}

const KEY = "amadegi:probe";

/** Read `amadegi:probe` of stack `stack` from `dir` (default `stacks/`). */
export function readStackSettings(stack: string, dir = "stacks"): StackSettingsResult {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(stack)) {
    throw new ProbeError(`"${stack}" is not a stack name`, { hint: "stack names are letters, digits, '.', '_' and '-'" });
  }
  const file = join(dir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new ProbeError(`no stack settings ${file}`, { file, hint: `create it, or pass --stack with one of the stacks in ${dir}/` });
  const { value, findings } = readStackKey(file, KEY, probeSettings, {
    message: `${file} has no ${KEY} (the ranges this stack may probe)`,
    hint: `add under config:\n  ${KEY}:\n    allow: [10.0.0.0/8]   # the stack's own ranges only`,
  });
  return value === undefined ? { file, findings } : { file, probe: value, findings };
}
