import { existsSync } from "node:fs";
import { join } from "node:path";
import { ProvisionError } from "../lib/errors.ts";
import { repoRoot } from "../lib/state.ts";
import {
  stackInventory,
  type Environment,
  environments,
  formatFinding,
  readStackSettingsFile,
  requireSettings,
  type StackSettings,
  type StackSettingsFile,
  type StackSettingsOptions,
  stackSettingsPath,
} from "../model/index.ts";

/**
 * A stack's settings as the CLI needs them before the engine runs (the
 * change freeze is judged before `up` touches anything): read straight from
 * stacks/Pulumi.<stack>.yaml, the settings' only home, by the one schema of
 * src/model/stackfile.ts. Inside the program, config.ts checks Pulumi's view
 * of the same keys against the same schema.
 */
export interface StackFile {
  readonly stack: string;
  readonly file: string;
  readonly environment: Environment;
  /** The inventory directory, relative to the repository root. */
  readonly inventory: string;
  /** Every setting of the file (state paths resolved). */
  readonly settings: StackSettings;
}

export function readStackFile(stack: string, stacksDir = join(repoRoot, "stacks"), options: StackSettingsOptions = {}): StackFile {
  const file = stackSettingsPath(stacksDir, stack);
  if (!existsSync(file)) {
    throw new ProvisionError(`stack ${stack} has no settings file ${file}`, { file, hint: `create it with amadegi:environment (${environments.join(" | ")})` });
  }
  return stackFileOf(stack, readStackSettingsFile(file, options));
}

/** The findings that stop `stackFileOf`: the file's own (unreadable, a key that is no setting) and its keys'. */
const OWN = new Set(["-", "amadegi:environment", "amadegi:inventory"]);

/**
 * What the CLI needs of settings read before the engine runs (`amadegi drift`
 * reads the file once for all its uses): a valid environment and inventory,
 * in a file that names no unknown setting. The other keys' findings are their
 * readers' (probing's; the program checks every key again, on Pulumi's view).
 */
export function stackFileOf(stack: string, read: StackSettingsFile): StackFile {
  const required = requireSettings(read, [
    { key: "amadegi:environment", message: `stack ${stack} has no amadegi:environment`, hint: `set it to one of ${environments.join(", ")}` },
  ]);
  const problems = required.findings.filter((f) => f.severity === "error" && OWN.has(f.item));
  const environment = required.settings?.["amadegi:environment"];
  if (problems[0] !== undefined || required.settings === undefined || environment === undefined) {
    throw new ProvisionError(`stack ${stack}: ${problems.map(formatFinding).join("; ")}`, { file: read.file, hint: "fix the stack's settings file" });
  }
  return { stack, file: read.file, environment, inventory: stackInventory(required.settings), settings: required.settings };
}
