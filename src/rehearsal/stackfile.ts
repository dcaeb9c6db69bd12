import { join } from "node:path";
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
