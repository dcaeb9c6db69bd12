import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { ProvisionError } from "../lib/errors.ts";
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

export async function readStackFile(stack: string, stacksDir = join(repoRoot, "stacks")): Promise<StackFile> {
  const file = join(stacksDir, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new ProvisionError(`stack ${stack} has no settings file ${file}`, { file, hint: `create it with amadegi:environment (${environments.join(" | ")})`, cause });
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch (cause) {
    throw new ProvisionError(`stack ${stack}: ${file} is not valid YAML`, { file, hint: "fix the YAML syntax", cause });
  }
  const config = typeof doc === "object" && doc !== null ? (doc as { config?: unknown }).config : undefined;
  const settings = typeof config === "object" && config !== null ? (config as Record<string, unknown>) : {};
  const environment = settings["amadegi:environment"];
  if (typeof environment !== "string" || !(environments as readonly string[]).includes(environment)) {
    throw new ProvisionError(`stack ${stack}: amadegi:environment is ${JSON.stringify(environment ?? null)}`, { file, hint: `set it to one of ${environments.join(", ")}` });
  }
  const inventory = settings["amadegi:inventory"] ?? "inventory";
  if (typeof inventory !== "string") throw new ProvisionError(`stack ${stack}: amadegi:inventory must be a path`, { file, hint: "write amadegi:inventory: inventory" });
  return { stack, file, environment: environment as Environment, inventory };
}
