import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/fs.ts";
import { repoRoot } from "../toolchain/paths.ts";
import { namespaceNames } from "./plan.ts";

/**
 * The rehearsal stack's settings for a rehearsal kept somewhere else: the
 * tracked `stacks/Pulumi.rehearsal.yaml` names the default namespaces and the
 * default state directory (`.amadegi/rehearsal`); a rehearsal with its own
 * prefix and state (a test, a benchmark, a second rehearsal on one machine)
 * needs the same settings pointed at its own probing namespace, pins overlay,
 * authority certificate and devices. Every replaced line must be there: a
 * template that lost one is refused, naming it.
 */
export function rehearsalStackSettings(template: string, stateDir: string, prefix: string): string {
  const names = namespaceNames(prefix);
  const lines: readonly (readonly [string, string])[] = [
    ["netns: amadegi-r-probe", `netns: ${names.probe}`],
    ["pins: .amadegi/rehearsal/pins.yaml", `pins: ${join(stateDir, "pins.yaml")}`],
    ["ca: .amadegi/rehearsal/ca.crt", `ca: ${join(stateDir, "ca.crt")}`],
    ["caFile: .amadegi/rehearsal/ca.crt", `caFile: ${join(stateDir, "ca.crt")}`],
    ["requests: .amadegi/rehearsal/devices", `requests: ${join(stateDir, "devices")}`],
    ["issued: .amadegi/rehearsal/devices/issued", `issued: ${join(stateDir, "devices", "issued")}`],
  ];
  let text = template;
  for (const [from, to] of lines) {
    if (!text.includes(from)) throw new Error(`the rehearsal stack settings have no line "${from}" to point at ${stateDir}: restore it in stacks/Pulumi.rehearsal.yaml`);
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
    if (!settings.includes("amadegi:inventory: inventory\n")) throw new Error("the rehearsal stack settings have no line \"amadegi:inventory: inventory\": restore it in stacks/Pulumi.rehearsal.yaml");
    settings = settings.replace("amadegi:inventory: inventory\n", `amadegi:inventory: ${options.inventory}\n`);
  }
  const file = join(options.stacksDir, `Pulumi.${options.stack}.yaml`);
  await writeFileAtomic(file, settings);
  const pins = join(options.stateDir, "pins.yaml");
  await writeFileAtomic(pins, (await readFile(pins, "utf8")).replace(/^stack: .*$/m, `stack: ${options.stack}`), 0o600);
  return file;
}
