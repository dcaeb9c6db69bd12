import { existsSync } from "node:fs";
import { join } from "node:path";
import { ProvisionError } from "../lib/errors.ts";
import { formatFinding } from "../model/finding.ts";
import { oneOf, text } from "../model/schema/core.ts";
import { readStackKey } from "../model/stackfile.ts";
import { repoRoot } from "../toolchain/paths.ts";
import { type Environment, environments } from "./config.ts";

/**
 * A stack's settings as the CLI needs them before the engine runs (the
 * change freeze is judged before `up` touches anything): read straight from
 * stacks/Pulumi.<stack>.yaml, the settings' only home. Inside the program,
 * config.ts reads the same keys through Pulumi.
 */
export interface StackFile {
  readonly stack: string;
  readonly file: string;
  readonly environment: Environment;
  /** The inventory directory, relative to the repository root. */
  readonly inventory: string;
}

export function readStackFile(stack: string, stacksDir = join(repoRoot, "stacks")): StackFile {
  const file = join(stacksDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    throw new ProvisionError(`stack ${stack} has no settings file ${file}`, { file, hint: `create it with amadegi:environment (${environments.join(" | ")})` });
  }
  const environment = readStackKey(file, "amadegi:environment", oneOf(environments), {
    message: `stack ${stack} has no amadegi:environment`,
    hint: `set it to one of ${environments.join(", ")}`,
  });
  const inventory = readStackKey(file, "amadegi:inventory", text({ max: 500 }));
  const problems = [...environment.findings, ...inventory.findings].filter((f) => f.severity === "error");
  if (problems[0] !== undefined || environment.value === undefined) {
    throw new ProvisionError(`stack ${stack}: ${problems.map(formatFinding).join("; ")}`, { file, hint: "fix the stack's settings file" });
  }
  return { stack, file, environment: environment.value, inventory: inventory.value ?? "inventory" };
}
