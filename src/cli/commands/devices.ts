import { join, resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { STATE_HELP, statePaths } from "../../lib/state.ts";
import { hasErrors, loadInventory } from "../../model/index.ts";
import { didYouMean } from "../../model/kit.ts";
import { readStackFile } from "../../provision/stackfile.ts";
import { renderRevocation, REVOCATION_NAMESPACE, REVOCATION_REASONS, type RevocationReason } from "../../provision/revocation.ts";
import { repoRoot } from "../../toolchain/paths.ts";
import { defineCommand, defineGroup } from "../command.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";
import { publish } from "./stack.ts";

/**
 * `amadegi devices revoke SERIAL --reason R --stack NAME`: the exact revocation a committee
 * member signs (src/provision/revocation.ts), written to the stack's revocations in the state
 * directory, with the ssh-keygen line that signs it. Nothing is revoked until it is signed and
 * published (`amadegi devices publish`).
 */
export const revoke = defineCommand({
  name: "devices revoke",
  synopsis: `amadegi devices revoke SERIAL --reason REASON --stack NAME`,
  positionals: true,
  options: {
    stack: { type: "string", short: "s", placeholder: "NAME", description: `the stack whose devices' CRL it goes on (${STACK_FORMS})` },
    reason: { type: "string", placeholder: "REASON", description: `why: ${REVOCATION_REASONS.join(", ")}` },
  },
  after: [
    `${STATE_HELP}.`,
    "Writes <state>/revocations/<stack>/<SERIAL>-<time>.txt and prints how a committee member signs it; then",
    "`amadegi devices publish --stack NAME` puts the device on the CRL at every gateway.",
    "Exit codes: 0 written; 2 not a device of the stack's inventory, no such reason, or no stack.",
  ],
  async run(args, io) {
    const name = stackOption(args.values.stack, "devices revoke");
    if (args.positionals.length !== 1)
      throw new UsageError("devices revoke takes one SERIAL", { hint: "amadegi devices revoke SERIAL --reason R --stack NAME" });
    const serial = args.positionals[0] ?? "";
    const reason = args.values.reason;
    if (reason === undefined || !(REVOCATION_REASONS as readonly string[]).includes(reason))
      throw new UsageError(`devices revoke needs --reason, one of ${REVOCATION_REASONS.join(", ")}`, {
        hint: "keyCompromise for a lost or stolen device (RFC 5280 reason codes)",
      });
    const settings = readStackFile(name);
    const loaded = await loadInventory(resolve(repoRoot, settings.inventory));
    if (loaded.inventory === undefined || hasErrors(loaded.findings))
      throw new UsageError(`the inventory of stack ${name} (${settings.inventory}) does not load without errors`, {
        hint: `amadegi validate --inventory ${settings.inventory}`,
      });
    const inventory = loaded.inventory;
    const serials = inventory.stations.map((s) => s.device.serial);
    const station = inventory.stations.find((s) => s.device.serial === serial);
    if (station === undefined)
      throw new UsageError(`${JSON.stringify(serial.slice(0, 64))} is no station's device in ${settings.inventory}${didYouMean(serial, serials)}`, {
        hint: "name the device by its serial (stations[].device.serial)",
      });
    const now = new Date();
    const time = `${now.toISOString().slice(0, 19)}Z`;
    const manifest = renderRevocation({ election: inventory.election.id, stack: name, device: serial, reason: reason as RevocationReason, time });
    const out = displayPath(io, join(statePaths(io.env).revocations, name, `${serial}-${time.replace(/[-:]/g, "")}.txt`));
    await writeFileAtomic(out, manifest);
    io.out(manifest.trimEnd());
    io.out("");
    io.out(`wrote ${out} (station ${station.id}); a committee member signs it unchanged:`);
    io.out(`  ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n ${REVOCATION_NAMESPACE} ${out}`);
    io.out(`then: amadegi devices publish --stack ${name}   (the CRL, at every gateway)`);
    return ExitCode.OK;
  },
});

export const devicesCommand = defineGroup({
  name: "devices",
  synopsis: ["amadegi devices revoke SERIAL --reason REASON --stack NAME", "amadegi devices publish --stack NAME [--yes] [--diff] [--json]"],
  subcommands: [
    { name: "revoke", summary: "write the revocation of a device a committee member signs", command: revoke },
    { name: "publish", summary: "the signed revocations onto the CRL, and the CRL onto every gateway (a targeted up)", command: publish },
  ],
  after: ["Run `amadegi devices <action> --help` for its options. docs/checks.md, ADR 0008."],
});
