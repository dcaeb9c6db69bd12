import { isAbsolute, join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  type AlertReceivers,
  checkStackSettings,
  stackInventory,
  type Environment,
  environments,
  isEnvironment,
  mappingKeys,
  type StackSettings,
} from "../model/index.ts";
import { repoRoot } from "../toolchain/paths.ts";

export { environments, type Environment } from "../model/index.ts";

/** The stack's settings, read once and checked (STYLE.md: one config.ts per program). */
export interface StackConfig {
  readonly stack: string;
  readonly environment: Environment;
  /** The inventory directory, relative to the repository root. */
  readonly inventory: string;
  /** The ranges the stack may reach (`amadegi:probe.allow`): provisioning refuses any other address. */
  readonly allow: readonly string[];
  /** The namespace the stack's engine runs in (`amadegi:probe.netns`; the rehearsal's amadegi-r-probe). */
  readonly netns?: string;
  /** The pins overlay (`amadegi:probe.pins`), resolved against the state directory: host keys, users, roots, control key. */
  readonly pins?: string;
  /** The private key provisioning logs in with when no overlay names one (`amadegi:ssh.identityFile`). */
  readonly identityFile?: string;
  /** Where devices leave requests and pick up certificates (`amadegi:devices`), resolved against the state directory. */
  readonly devices?: { readonly requests: string; readonly issued: string };
  /** A device-keys overlay (`amadegi:devices.keys`, the rehearsal's), resolved against the state directory. */
  readonly deviceKeys?: string;
  /** Where the stack leaves the authority's certificate (`amadegi:pki.caFile`), resolved against the state directory. */
  readonly caFile?: string;
  /** Where the monitor role's Alertmanager posts notifications (`amadegi:alerting`). */
  readonly alerting?: AlertReceivers;
}

/**
 * Pulumi's config object as the stack settings' schema reads it: the
 * `amadegi:` keys, a mapping's value (Pulumi keeps it as JSON text) as an
 * object. Text that is not JSON stays text, which the schema refuses.
 */
function amadegiValues(config: Readonly<Record<string, string>>): Record<string, unknown> {
  const mappings = mappingKeys();
  const values: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(config)) {
    if (!key.startsWith("amadegi:")) continue;
    let value: unknown = raw;
    if (mappings.has(key)) {
      try {
        value = JSON.parse(raw);
      } catch {
        // Left as text: the schema says it is not a mapping.
      }
    }
    values[key] = value;
  }
  return values;
}

/** The program's view of settings that passed the schema. */
export function stackConfigOf(stack: string, environment: Environment, settings: StackSettings): StackConfig {
  const probe = settings["amadegi:probe"];
  const identityFile = settings["amadegi:ssh"]?.identityFile;
  const caFile = settings["amadegi:pki"]?.caFile;
  const devices = settings["amadegi:devices"];
  const alerting = settings["amadegi:alerting"];
  return {
    stack,
    environment,
    inventory: stackInventory(settings),
    allow: probe?.allow ?? [],
    ...(probe?.netns === undefined ? {} : { netns: probe.netns }),
    ...(probe?.pins === undefined ? {} : { pins: probe.pins }),
    ...(identityFile === undefined ? {} : { identityFile }),
    ...(caFile === undefined ? {} : { caFile }),
    ...(devices === undefined ? {} : { devices: { requests: devices.requests, issued: devices.issued } }),
    ...(devices?.keys === undefined ? {} : { deviceKeys: devices.keys }),
    ...(alerting === undefined ? {} : { alerting }),
  };
}

/**
 * Read inside the program, from Pulumi's config (what the engine read from
 * stacks/Pulumi.<stack>.yaml), checked against the one schema of a stack's
 * settings (src/model/stackfile.ts). Every finding stops the program, named
 * by its key; `amadegi:probe.allow` and the SSH key are required by the
 * program itself, which names them.
 */
export function readStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const file = `stacks/Pulumi.${stack}.yaml`;
  const values = amadegiValues(pulumi.runtime.allConfig());
  const environment = values["amadegi:environment"];
  if (environment === undefined) throw new Error(`stack ${stack} has no amadegi:environment; set it to one of ${environments.join(", ")} in ${file}`);
  if (typeof environment !== "string" || !isEnvironment(environment)) {
    throw new Error(`stack ${stack}: amadegi:environment is "${String(environment).slice(0, 60)}"; set it to one of ${environments.join(", ")} in ${file}`);
  }
  const read = checkStackSettings(`${file} (as Pulumi read it)`, values);
  const errors = read.findings.filter((f) => f.severity === "error");
  if (errors.length > 0 || read.settings === undefined) {
    throw new Error(
      `stack ${stack}: the settings in ${file} do not pass their schema:\n${errors.map((f) => `  ${f.item}: ${f.message} (${f.hint})`).join("\n")}`,
    );
  }
  return stackConfigOf(stack, environment, read.settings);
}

/** Where the program reads the inventory from, and the committee its waivers are checked against. */
export interface InventorySource {
  /** The inventory directory, absolute. */
  readonly dir: string;
  /** The committee file: always the stack's own (`<amadegi:inventory>/../governance/committee.yaml`). */
  readonly committeeFile: string;
  /** The directory as messages name it: the stack setting, or the override as given. */
  readonly shown: string;
}

/**
 * The inventory a run of the program reads: the stack's `amadegi:inventory`,
 * or `override` (an absolute directory: `amadegi preview --inventory`, a pull
 * request's inventory checked out as data). The override replaces only the
 * inventory: the committee, like every other setting, stays the stack's own
 * (the base branch's), never one the pull request brings.
 */
export function inventorySource(config: StackConfig, override?: string, root: string = repoRoot): InventorySource {
  const own = isAbsolute(config.inventory) ? config.inventory : resolve(root, config.inventory);
  const committeeFile = join(own, "..", "governance", "committee.yaml");
  if (override === undefined) return { dir: own, committeeFile, shown: config.inventory };
  if (!isAbsolute(override)) throw new Error(`stack ${config.stack}: the inventory override ${override} is not an absolute path`);
  return { dir: override, committeeFile, shown: override };
}
