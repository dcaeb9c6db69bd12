import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../lib/fs.ts";
import { rehearsalPaths, repoRoot } from "../lib/state.ts";
import { namespaceNames } from "./plan.ts";

/**
 * The rehearsal stack's settings for a rehearsal kept somewhere else: the
 * tracked `stacks/Pulumi.rehearsal.yaml` names the default namespaces and the
 * default rehearsal state (`rehearsal/` of the state directory: its settings'
 * paths are relative to the state directory); a rehearsal with its own prefix
 * and state (a test, a benchmark, a second rehearsal on one machine) needs the
 * same settings pointed at its own probing namespace, pins overlay, authority
 * certificate and devices, as absolute paths. Every replaced line must be
 * there: a template that lost one is refused, naming it.
 */
export function rehearsalStackSettings(template: string, stateDir: string, prefix: string): string {
  const names = namespaceNames(prefix);
  // The tracked settings name the default rehearsal's files relative to the state directory.
  const tracked = rehearsalPaths("rehearsal");
  // Absolute: a relative path in the settings would be read from the state directory.
  const own = rehearsalPaths(resolve(stateDir));
  const lines: readonly (readonly [string, string])[] = [
    ["netns: amadegi-r-probe", `netns: ${names.probe}`],
    [`pins: ${tracked.pins}`, `pins: ${own.pins}`],
    [`ca: ${tracked.ca}`, `ca: ${own.ca}`],
    [`caFile: ${tracked.ca}`, `caFile: ${own.ca}`],
    [`requests: ${tracked.devices}`, `requests: ${own.devices}`],
    [`issued: ${tracked.issued}`, `issued: ${own.issued}`],
    [`keys: ${tracked.keys}`, `keys: ${own.keys}`],
  ];
  let text = template;
  for (const [from, to] of lines) {
    if (!text.includes(from))
      throw new Error(`the rehearsal stack settings have no line "${from}" to point at ${stateDir}: restore it in stacks/Pulumi.rehearsal.yaml`);
    text = text.replace(from, to);
  }
  return text;
}

export interface RehearsalStackOptions {
  /** Where the stack's settings go (the engine reads them from the repository's stacks/). */
  readonly stacksDir: string;
  readonly stack: string;
  readonly stateDir: string;
  readonly prefix: string;
  /** The inventory directory, in place of the tracked settings' `inventory`. */
  readonly inventory?: string;
}

/**
 * A stack of another name standing for the rehearsal kept in `stateDir`: its
 * settings (the tracked rehearsal settings, pointed there) written to
 * `stacksDir/Pulumi.<stack>.yaml`, and the rehearsal's pins overlay — which
 * names the stack it was written for — re-labelled for it. Returns the file.
 */
export async function writeRehearsalStack(options: RehearsalStackOptions): Promise<string> {
  let settings = rehearsalStackSettings(await readFile(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), "utf8"), options.stateDir, options.prefix);
  if (options.inventory !== undefined) {
    if (!settings.includes("amadegi:inventory: inventory\n"))
      throw new Error('the rehearsal stack settings have no line "amadegi:inventory: inventory": restore it in stacks/Pulumi.rehearsal.yaml');
    settings = settings.replace("amadegi:inventory: inventory\n", `amadegi:inventory: ${options.inventory}\n`);
  }
  const file = join(options.stacksDir, `Pulumi.${options.stack}.yaml`);
  await writeFileAtomic(file, settings);
  const pins = rehearsalPaths(options.stateDir).pins;
  await writeFileAtomic(pins, (await readFile(pins, "utf8")).replace(/^stack: .*$/m, `stack: ${options.stack}`), 0o600);
  return file;
}
