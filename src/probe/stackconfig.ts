import { existsSync } from "node:fs";
import { ProbeError } from "../lib/errors.ts";
import {
  type Finding,
  type ProbeSettings,
  readStackSettingsFile,
  requireSettings,
  STACK_NAME,
  type StackSettingsFile,
  type StackSettingsOptions,
  stackSettingsPath,
} from "../model/index.ts";

export type { ProbeSettings } from "../model/index.ts";

/**
 * The probe settings of a stack (`amadegi:probe` of `stacks/Pulumi.<stack>.yaml`),
 * without the Pulumi engine: a campaign must be able to run where no engine is
 * installed. The file is read by src/model/stackfile.ts, the one schema of a
 * stack's settings; here is only what probing requires of it.
 */
export interface StackSettingsResult {
  readonly file: string;
  /** With `pins` and `ca` resolved against the state directory. */
  readonly probe?: ProbeSettings;
  /** Every finding of the file, not only the probe's: all of them at once. */
  readonly findings: readonly Finding[];
}

const KEY = "amadegi:probe";

/**
 * Stack `stack`'s settings file in `dir` (default `stacks/`), read once; a
 * name that is no stack name or a file that is not there is a ProbeError.
 * Pass the result to `probeSettingsOf` and to provisioning's `stackFileOf`.
 */
export function openStackSettings(stack: string, dir = "stacks", options: StackSettingsOptions = {}): StackSettingsFile {
  if (!STACK_NAME.test(stack)) {
    throw new ProbeError(`"${stack}" is not a stack name`, { hint: "stack names are letters, digits, '.', '_' and '-'" });
  }
  const file = stackSettingsPath(dir, stack);
  if (!existsSync(file)) throw new ProbeError(`no stack settings ${file}`, { file, hint: `create it, or pass --stack with one of the stacks in ${dir}/` });
  return readStackSettingsFile(file, options);
}

/** What probing requires of settings read: `amadegi:probe` with its `allow` ranges. */
export function probeSettingsOf(read: StackSettingsFile): StackSettingsResult {
  const required = requireSettings(read, [
    {
      key: KEY,
      message: `${read.file} has no ${KEY} (the ranges this stack may probe)`,
      hint: `add under config:\n  ${KEY}:\n    allow: [10.0.0.0/8]   # the stack's own ranges only`,
    },
    {
      key: KEY,
      field: "allow",
      message: 'missing field "allow"',
      hint: "add allow: the address ranges this stack may probe (CIDR); nothing else is ever sent a packet",
    },
  ]);
  const probe = required.settings?.[KEY];
  return probe === undefined ? { file: read.file, findings: required.findings } : { file: read.file, probe, findings: required.findings };
}

/** Read `amadegi:probe` of stack `stack` from `dir` (default `stacks/`). */
export function readStackSettings(stack: string, dir = "stacks", options: StackSettingsOptions = {}): StackSettingsResult {
  return probeSettingsOf(openStackSettings(stack, dir, options));
}
