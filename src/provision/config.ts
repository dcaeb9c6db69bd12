import { isAbsolute, join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { repoRoot } from "../toolchain/paths.ts";

export const environments = ["rehearsal", "staging", "production"] as const;
export type Environment = (typeof environments)[number];

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
  /** The pins overlay (`amadegi:probe.pins`), relative to the repository root: host keys, users, roots, control key. */
  readonly pins?: string;
  /** The private key provisioning logs in with when no overlay names one (`amadegi:ssh.identityFile`). */
  readonly identityFile?: string;
  /** Where devices leave requests and pick up certificates (`amadegi:devices`), relative to the repository root. */
  readonly devices?: { readonly requests: string; readonly issued: string };
  /** Where the stack leaves the authority's certificate (`amadegi:pki.caFile`), relative to the repository root. */
  readonly caFile?: string;
}

interface ProbeKey {
  readonly allow?: unknown;
  readonly netns?: unknown;
  readonly pins?: unknown;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
}

export function readStackConfig(): StackConfig {
  const config = new pulumi.Config("amadegi");
  const stack = pulumi.getStack();
  const file = `stacks/Pulumi.${stack}.yaml`;
  const environment = config.require("environment");
  if (!(environments as readonly string[]).includes(environment)) {
    throw new Error(`stack ${stack}: amadegi:environment is "${environment}"; set it to one of ${environments.join(", ")} in ${file}`);
  }
  const probe = config.getObject<ProbeKey>("probe") ?? {};
  const allow = strings(probe.allow) ?? [];
  const ssh = config.getObject<{ identityFile?: unknown }>("ssh") ?? {};
  const pki = config.getObject<{ caFile?: unknown }>("pki") ?? {};
  const devices = config.getObject<{ requests?: unknown; issued?: unknown }>("devices");
  if (devices !== undefined && (typeof devices.requests !== "string" || typeof devices.issued !== "string")) {
    throw new Error(`stack ${stack}: amadegi:devices needs requests and issued (directories) in ${file}`);
  }
  return {
    stack,
    environment: environment as Environment,
    inventory: config.get("inventory") ?? "inventory",
    allow,
    ...(typeof probe.netns === "string" ? { netns: probe.netns } : {}),
    ...(typeof probe.pins === "string" ? { pins: probe.pins } : {}),
    ...(typeof ssh.identityFile === "string" ? { identityFile: ssh.identityFile } : {}),
    ...(typeof pki.caFile === "string" ? { caFile: pki.caFile } : {}),
    ...(devices === undefined ? {} : { devices: { requests: devices.requests as string, issued: devices.issued as string } }),
  };
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
